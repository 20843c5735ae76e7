"""Login state in the real Redis (services/auth/sessions.py): single-use attempts, sessions, the rate limit.

Each test uses its own random browser ids, session ids and rate buckets, so tests can run side by side.
"""

from __future__ import annotations

import hashlib
import json
import string
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis

from services.auth.sessions import ATTEMPT_TTL, Session, SessionStore
from services.common.settings import Settings
from tests.conftest import TEST_REDIS_URL


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(TEST_REDIS_URL)
    yield conn
    conn.close()


def put_record(client: redis.Redis, created: float, **expiry: int) -> tuple[str, str]:
    """A session record as written before the session kept the terms (issue 16): (its id, its key)."""
    sid = uuid.uuid4().hex
    key = f"auth:session:{digest(sid)}"
    body = {"user_id": 7, "username": "alice.3bot", "email": "alice@example.com", "created": created}
    client.set(key, json.dumps(body), **expiry)  # type: ignore[arg-type]
    return sid, key


@pytest.fixture
def store(client: redis.Redis, make_settings: Callable[..., Settings]) -> SessionStore:
    settings = make_settings(SESSION_TTL="3600", SESSION_ABSOLUTE_TTL="7200", LOGIN_RATE_LIMIT="3",
                             LOGIN_RATE_WINDOW="60")  # fmt: skip
    return SessionStore(client, settings)


# -- login attempts -------------------------------------------------------------------------------------------


def test_an_attempt_is_stored_under_a_digest_of_the_browser_for_ten_minutes(
    store: SessionStore, client: redis.Redis
) -> None:
    browser = uuid.uuid4().hex
    before = time.time()
    state = store.start_attempt(browser, "/pools")
    assert len(state) == 40 and set(state) <= set(string.ascii_letters + string.digits)
    key = f"auth:attempt:{digest(browser)}"
    assert client.keys(f"*{browser}*") == []  # the browser cookie itself is never a key
    record = json.loads(client.get(key) or b"null")
    assert record["state"] == state and record["next"] == "/pools" and before <= record["created"] <= time.time()
    assert ATTEMPT_TTL == 600 and 590 <= client.ttl(key) <= 600


def test_an_attempt_is_consumed_once(store: SessionStore) -> None:
    browser = uuid.uuid4().hex
    state = store.start_attempt(browser, "/next")
    consumed = store.consume_attempt(browser)
    assert consumed is not None and consumed["state"] == state and consumed["next"] == "/next"
    assert store.consume_attempt(browser) is None


def test_a_new_attempt_replaces_the_browsers_previous_one(store: SessionStore) -> None:
    browser = uuid.uuid4().hex
    store.start_attempt(browser, "/")
    second = store.start_attempt(browser, "/")
    consumed = store.consume_attempt(browser)
    assert consumed is not None and consumed["state"] == second
    assert store.start_attempt(uuid.uuid4().hex, "/") != second  # every attempt has its own random state


def test_no_or_oversized_browser_id_has_no_attempt(store: SessionStore) -> None:
    assert store.consume_attempt(None) is None
    assert store.consume_attempt("") is None
    longest = "b" * 127 + uuid.uuid4().hex[:1]
    store.start_attempt(longest, "/")
    assert store.consume_attempt(longest) is not None  # 128 characters is still a browser id
    too_long = longest + "x"
    store.start_attempt(too_long, "/")
    assert store.consume_attempt(too_long) is None


# -- sessions -------------------------------------------------------------------------------------------------


def test_a_session_is_stored_under_a_digest_of_its_id(store: SessionStore, client: redis.Redis) -> None:
    before = time.time()
    session = store.create(7, "alice.3bot", "alice@example.com")
    assert len(session.sid) == 43  # 32 random bytes, base64url
    assert (session.user_id, session.username, session.email) == (7, "alice.3bot", "alice@example.com")
    assert before <= session.created <= time.time()
    key = f"auth:session:{digest(session.sid)}"
    stored = {"user_id": 7, "username": "alice.3bot", "email": "alice@example.com", "created": session.created,
              "terms": None, "terms_checked": 0.0}  # fmt: skip
    assert json.loads(client.get(key) or b"null") == stored
    assert 3590 <= client.ttl(key) <= 3600
    assert store.get(session.sid) == session
    assert store.create(7, "alice.3bot", "alice@example.com").sid != session.sid


def test_reading_a_session_pushes_its_idle_expiry_back(store: SessionStore, client: redis.Redis) -> None:
    session = store.create(7, "alice.3bot", "alice@example.com")
    key = f"auth:session:{digest(session.sid)}"
    client.expire(key, 100)
    assert store.get(session.sid) == session
    assert client.ttl(key) > 3000


def test_a_read_soon_after_the_last_slide_writes_nothing(store: SessionStore, client: redis.Redis) -> None:
    # The expiry is pushed back once 5 % of the idle timeout (180 s of 3600) has passed, not on every request.
    session = store.create(7, "alice.3bot", "alice@example.com")
    key = f"auth:session:{digest(session.sid)}"
    client.expire(key, 3500)  # 100 s since the last push
    assert store.get(session.sid) == session
    assert 3490 <= client.ttl(key) <= 3500
    client.expire(key, 3400)  # 200 s since: pushed back
    assert store.get(session.sid) == session
    assert client.ttl(key) >= 3590


def test_a_read_right_after_a_push_is_one_round_trip_without_multi_or_write(
    store: SessionStore, client: redis.Redis
) -> None:
    # Redis remembers each connection's last command: a store on its own named connection shows what get() sent.
    name = f"sessions-{uuid.uuid4().hex}"
    own = redis.Redis.from_url(TEST_REDIS_URL, client_name=name)
    try:
        reader = SessionStore(own, store.settings)
        session = reader.create(7, "alice.3bot", "alice@example.com")  # its TTL is its whole lifetime
        assert reader.get(session.sid) == session
        (info,) = [c for c in client.client_list() if c["name"] == name]
        assert info["cmd"] == "ttl"  # the pipeline's last command: no EXEC (MULTI), no EXPIRE after it
    finally:
        own.close()


def test_exactly_five_percent_of_the_idle_timeout_after_the_last_push_pushes_it_back(
    store: SessionStore, client: redis.Redis
) -> None:
    session = store.create(7, "alice.3bot", "alice@example.com")
    key = f"auth:session:{digest(session.sid)}"
    client.expire(key, 3420)  # 180 s (5 % of 3600) since the last push
    assert store.get(session.sid) == session
    assert client.ttl(key) >= 3590


def test_near_its_absolute_limit_an_expiry_less_than_five_percent_short_of_it_is_kept(
    store: SessionStore, client: redis.Redis
) -> None:
    # 100 s of the 2 hours left: pushing the expiry back would gain less than 180 s, so nothing is written, even
    # when the idle expiry is due now (TTL 0 s) — the session idles out, at most 5 % of SESSION_TTL early.
    created = time.time() - 7100
    sid, key = put_record(client, created, ex=50)
    assert store.get(sid) is not None
    assert 45 <= client.ttl(key) <= 50
    sid, key = put_record(client, created, px=300)
    assert store.get(sid) is not None
    assert client.ttl(key) <= 0


def test_in_its_last_second_a_session_is_kept_one_second_and_its_cookie_none(
    store: SessionStore, client: redis.Redis
) -> None:
    sid, key = put_record(client, time.time() - 7199.5, ex=3600)
    session = store.get(sid)
    assert session is not None and store.lifetime(session) == 0  # the cookie's Max-Age: gone now
    assert client.ttl(key) == 1  # EXPIRE 0 would delete the key under the request that just read it
    past = Session(sid, 7, "alice.3bot", "alice@example.com", time.time() - 7300)
    assert store.lifetime(past) == 0


def test_a_record_without_the_terms_fields_reads_as_never_checked(store: SessionStore, client: redis.Redis) -> None:
    created = time.time()
    sid, _ = put_record(client, created, ex=60)
    assert store.get(sid) == Session(sid, 7, "alice.3bot", "alice@example.com", created, None, 0.0)


def test_the_terms_read_are_kept_in_the_session_record_never_reviving_it(
    store: SessionStore, client: redis.Redis
) -> None:
    session = store.create(7, "alice.3bot", "alice@example.com")
    key = f"auth:session:{digest(session.sid)}"
    client.expire(key, 3000)
    accepted = store.remember_terms(session, "testnet/1")
    assert 2990 <= client.ttl(key) <= 3000  # the expiry is kept
    assert json.loads(client.get(key) or b"null")["terms_checked"] == 0.0  # an acceptance is no refusal read
    assert store.get(session.sid) == accepted and accepted.terms == "testnet/1"
    refused = store.remember_terms(accepted, None)
    stored = store.get(session.sid)
    assert stored == refused and stored.terms is None and time.time() - stored.terms_checked < 5
    store.destroy(session.sid)
    store.remember_terms(session, "testnet/1")  # a verify that read the record before the logout
    assert client.exists(key) == 0 and store.get(session.sid) is None


def test_a_session_past_its_absolute_lifetime_is_gone(store: SessionStore, client: redis.Redis) -> None:
    sid = uuid.uuid4().hex
    key = f"auth:session:{digest(sid)}"
    body = {"user_id": 7, "username": "alice.3bot", "email": "alice@example.com"}
    client.set(key, json.dumps({**body, "created": time.time() - 7190}), ex=3600)
    assert store.get(sid) is not None  # 10 s short of the 2-hour absolute lifetime
    client.set(key, json.dumps({**body, "created": time.time() - 7210}), ex=3600)
    assert store.get(sid) is None
    assert client.exists(key) == 0


def test_near_its_absolute_limit_a_session_slides_only_up_to_it(store: SessionStore, client: redis.Redis) -> None:
    sid = uuid.uuid4().hex
    key = f"auth:session:{digest(sid)}"
    body = {"user_id": 7, "username": "alice.3bot", "email": "alice@example.com", "created": time.time() - 7000}
    client.set(key, json.dumps(body), ex=3600)
    session = store.get(sid)
    assert session is not None
    assert 190 <= store.lifetime(session) <= 200  # 200 s of the 2 hours left, not the hour of idle expiry
    assert 190 <= client.ttl(key) <= 200
    fresh = store.create(7, "alice.3bot", "alice@example.com")
    assert store.lifetime(fresh) == 3600


def test_unknown_missing_or_oversized_session_ids(store: SessionStore, client: redis.Redis) -> None:
    assert store.get(None) is None and store.get("") is None and store.get(uuid.uuid4().hex) is None
    body = json.dumps({"user_id": 7, "username": "alice.3bot", "email": "alice@example.com", "created": time.time()})
    longest = uuid.uuid4().hex + "s" * 96
    client.set(f"auth:session:{digest(longest)}", body, ex=60)
    assert store.get(longest) is not None  # 128 characters is still a session id
    too_long = longest + "x"
    client.set(f"auth:session:{digest(too_long)}", body, ex=60)
    assert store.get(too_long) is None


def test_a_destroyed_session_is_gone(store: SessionStore) -> None:
    session = store.create(7, "alice.3bot", "alice@example.com")
    other = store.create(8, "bob.3bot", "bob@example.com")
    store.destroy(session.sid)
    store.destroy(None)
    store.destroy("")
    assert store.get(session.sid) is None
    assert store.get(other.sid) == other


# -- rate limit -----------------------------------------------------------------------------------------------


def test_the_rate_limit_counts_per_client_and_bucket_within_a_window(store: SessionStore, client: redis.Redis) -> None:
    bucket, address = uuid.uuid4().hex, "203.0.113.7"
    # Stay inside one 60-second window: a window boundary between the calls would reset the count.
    if time.time() % 60 > 55:
        time.sleep(60 - time.time() % 60)
    assert [store.over_limit(address, bucket) for _ in range(3)] == [None, None, None]
    wait = store.over_limit(address, bucket)
    assert wait is not None and 1 <= wait <= 60 and abs(wait - (60 - time.time() % 60)) <= 1
    assert store.over_limit("198.51.100.1", bucket) is None  # another client
    assert store.over_limit(address, uuid.uuid4().hex) is None  # another bucket
    (key,) = client.keys(f"auth:rate:{bucket}:{address}:*")
    assert key.decode().endswith(f":{int(time.time() // 60)}")
    assert 0 < client.ttl(key) <= 60
