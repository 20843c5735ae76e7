"""The auth service's assertion cache (services/auth/verify.py): one signature per session for most of the TTL."""

from __future__ import annotations

from services.auth.verify import MAX_CACHED, REUSE_MARGIN, AssertionCache
from services.common import assertion
from services.common.identity import Identity

SIGNER = Identity(bytes(range(32)))
ALICE = assertion.User("alice.3bot", "alice@example.com", "1")


def test_a_token_is_reused_until_a_quarter_of_its_ttl_is_left_then_signed_afresh() -> None:
    cache = AssertionCache(SIGNER, ttl=60)
    first = cache.token("sid", ALICE, now=1000)
    assert REUSE_MARGIN == 0.25
    assert cache.token("sid", ALICE, now=1044) == first  # 16 s left of 60
    fresh = cache.token("sid", ALICE, now=1045)  # 15 s left: re-signed
    assert fresh != first
    claims = assertion.verify(fresh, SIGNER.verify_key, "alice.3bot", now=1045 + 59)
    assert claims == ALICE  # valid for a whole TTL from its own issue


def test_a_token_is_never_shared_between_sessions_or_changed_claims() -> None:
    cache = AssertionCache(SIGNER, ttl=60)
    token = cache.token("sid", ALICE, now=1000)
    assert cache.token("other", ALICE, now=1001) != token
    declined = assertion.User("alice.3bot", "alice@example.com", None)
    changed = cache.token("sid", declined, now=1001)
    assert assertion.verify(changed, SIGNER.verify_key, "alice.3bot", now=1001).terms_version is None


def test_a_forgotten_session_is_signed_afresh() -> None:
    cache = AssertionCache(SIGNER, ttl=60)
    token = cache.token("sid", ALICE, now=1000)
    cache.forget("sid")
    assert cache.token("sid", ALICE, now=1001) != token


def test_the_cache_stays_bounded() -> None:
    assert MAX_CACHED == 10_000
    cache = AssertionCache(SIGNER, ttl=60, max_cached=10)
    for i in range(10):
        cache.token(f"old{i}", ALICE, now=1000)
    cache.token("new", ALICE, now=2000)  # every earlier token has expired by then: they go
    assert cache.token("new", ALICE, now=2001) == cache.token("new", ALICE, now=2002)
    assert len(cache._tokens) == 1
    sizes = []
    for i in range(30):  # none expires: all go rather than grow past the bound
        cache.token(f"live{i}", ALICE, now=2003)
        sizes.append(len(cache._tokens))
    assert max(sizes) == 10
