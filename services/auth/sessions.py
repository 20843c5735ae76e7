"""Server-side state of login in Redis: pending login attempts, sessions, and the per-address rate limit.

Keys hold a SHA-256 of the cookie value, never the value itself: a copy of Redis does not let anyone sign in.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass, replace
from typing import Any

import redis

from services.auth.service import new_state
from services.common.settings import Settings

ATTEMPT_TTL = 600  # an unanswered login attempt expires after 10 minutes (LOGIN_PROTOCOL §7.1)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# The idle expiry slides without a write per request: the key's TTL is pushed back only once this fraction of the
# idle timeout has passed since the last push (so a session idles out between 95 % and 100 % of SESSION_TTL).
SLIDE_FRACTION = 0.05
# A refusal of the terms read from PostgreSQL is believed this long (an acceptance made from another browser
# reaches this session within it; the session that accepts is updated at once). An acceptance is kept until the
# terms version changes: acceptances are never withdrawn.
TERMS_RECHECK = 10.0


@dataclass(frozen=True)
class Session:
    sid: str
    user_id: int
    username: str
    email: str
    created: float
    # The terms this session's user accepted as last read from PostgreSQL ("<grid network>/<version>"), and when
    # a refusal was read (0: never read). Kept in the session record, so /auth/verify reads Redis only.
    terms: str | None = None
    terms_checked: float = 0.0

    def record(self) -> str:
        fields = ("user_id", "username", "email", "created", "terms", "terms_checked")
        return json.dumps({name: getattr(self, name) for name in fields})


def terms_mark(grid_network: str, version: str) -> str:
    return f"{grid_network}/{version}"


class SessionStore:
    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.redis = client
        self.settings = settings

    # -- login attempts ---------------------------------------------------------------------------------------

    def start_attempt(self, browser_id: str, next_path: str) -> str:
        """A new single-use state bound to this browser; replaces the browser's previous pending attempt."""
        state = new_state()
        record = json.dumps({"state": state, "next": next_path, "created": time.time()})
        self.redis.set(f"auth:attempt:{_digest(browser_id)}", record, ex=ATTEMPT_TTL)
        return state

    def consume_attempt(self, browser_id: str | None) -> dict[str, Any] | None:
        """This browser's pending attempt, deleted in the same step (GETDEL: a replay finds nothing)."""
        if not browser_id or len(browser_id) > 128:
            return None
        raw = self.redis.getdel(f"auth:attempt:{_digest(browser_id)}")
        return None if raw is None else dict(json.loads(raw))

    # -- sessions ---------------------------------------------------------------------------------------------

    def create(self, user_id: int, username: str, email: str) -> Session:
        session = Session(secrets.token_urlsafe(32), user_id, username, email, time.time())
        self.redis.set(self._key(session.sid), session.record(), ex=self.lifetime(session))
        return session

    @staticmethod
    def _key(sid: str) -> str:
        return f"auth:session:{_digest(sid)}"

    def lifetime(self, session: Session) -> int:
        """Seconds ``session`` may still live if unused: the idle TTL, cut short by the absolute limit.

        Both the Redis key and the browser's cookie (``Max-Age``, renewed on use) get this, so neither outlives
        the absolute limit and the cookie never dies before a session the server still slides.
        """
        left = self.settings.session_absolute_ttl - (time.time() - session.created)
        return max(0, min(self.settings.session_ttl, int(left)))

    def get(self, sid: str | None) -> Session | None:
        """The live session of ``sid``; None when unknown or too old. One round trip (the record and its TTL);
        a second, pushing the idle expiry back, only once ``SLIDE_FRACTION`` of the idle timeout has passed."""
        if not sid or len(sid) > 128:
            return None
        key = self._key(sid)
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(key)
        pipe.ttl(key)
        raw, ttl = pipe.execute()
        if raw is None:
            return None
        data = json.loads(raw)
        if time.time() - data["created"] > self.settings.session_absolute_ttl:
            self.redis.delete(key)
            return None
        session = Session(sid, int(data["user_id"]), data["username"], data["email"], float(data["created"]),
                          data.get("terms"), float(data.get("terms_checked", 0.0)))  # fmt: skip
        lifetime = max(1, self.lifetime(session))
        if ttl < 0 or ttl > lifetime or lifetime - ttl >= max(1, self.settings.session_ttl * SLIDE_FRACTION):
            self.redis.expire(key, lifetime)
        return session

    def remember_terms(self, session: Session, accepted: str | None) -> Session:
        """``session`` with the terms just read from PostgreSQL, stored in its record — only if the session still
        exists (``XX``: a session ended meanwhile is never brought back) and keeping its expiry."""
        updated = replace(session, terms=accepted, terms_checked=0.0 if accepted else time.time())
        self.redis.set(self._key(session.sid), updated.record(), xx=True, keepttl=True)
        return updated

    def destroy(self, sid: str | None) -> None:
        if sid:
            self.redis.delete(self._key(sid))

    # -- rate limit -------------------------------------------------------------------------------------------

    def over_limit(self, client: str, bucket: str) -> int | None:
        """Count one login request of ``client``; seconds to wait when over the limit, else None."""
        window = self.settings.login_rate_window
        slot = int(time.time() // window)
        key = f"auth:rate:{bucket}:{client}:{slot}"
        pipe = self.redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, window)
        count = pipe.execute()[0]
        if count > self.settings.login_rate_limit:
            return window - int(time.time()) % window
        return None


def count_sessions(client: redis.Redis) -> int:
    """The sessions alive now (their keys; each expires with its session). One SCAN of the keyspace: metrics read
    it at scrape time, never a request."""
    return sum(1 for _ in client.scan_iter(match="auth:session:*", count=1000))
