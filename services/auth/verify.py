"""What ``/auth/verify`` (Caddy's forward_auth, asked about every protected request) does without re-doing it.

* The terms: read from PostgreSQL once per session and terms version, then kept in the session record in Redis
  (``SessionStore.remember_terms``), so a verify is one Redis round trip.
* The signed assertion: one per session, reused until less than a quarter of its TTL is left (``REUSE_MARGIN``),
  then signed afresh — instead of an Ed25519 signature per request. The cache is per process and is keyed by the
  session and by everything the token asserts, so a changed answer (terms accepted) is never served an old token.

Nothing here outlives a session: the session record is read on every verify, so a session that ended (logout,
idle or absolute expiry) is refused at its next request; a token already handed to a service expires within
``ASSERTION_TTL`` at most.
"""

from __future__ import annotations

import threading
import time

from services.auth import store
from services.auth.sessions import TERMS_RECHECK, Session, SessionStore, terms_mark
from services.common import assertion
from services.common.db import Database
from services.common.identity import Identity
from services.common.settings import Settings

REUSE_MARGIN = 0.25  # re-sign when less than this fraction of the assertion's TTL is left
MAX_CACHED = 10_000  # tokens kept per process; past it, the expired ones go (all of them if none had expired)


def accepted_terms(db: Database, sessions: SessionStore, settings: Settings, session: Session) -> str | None:
    """The current terms version if ``session``'s user accepted it, else None — from the session record; from
    PostgreSQL only when the record holds no answer for the current version (first verify after login, a new
    terms version) or holds a refusal older than ``TERMS_RECHECK``."""
    mark = terms_mark(settings.grid_network, settings.terms_version)
    if session.terms == mark:
        return settings.terms_version
    if session.terms is None and time.time() - session.terms_checked < TERMS_RECHECK:
        return None
    accepted = store.accepted_terms(db, session.user_id, settings.grid_network, settings.terms_version)
    sessions.remember_terms(session, mark if accepted else None)
    return settings.terms_version if accepted else None


class AssertionCache:
    """Signed assertions per session, reused for most of their TTL."""

    def __init__(self, signer: Identity, ttl: int, max_cached: int = MAX_CACHED) -> None:
        self.signer = signer
        self.ttl = ttl
        self.max_cached = max_cached
        self._tokens: dict[tuple[str, assertion.User], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def token(self, sid: str, user: assertion.User, now: float | None = None) -> str:
        """A valid token asserting ``user`` for session ``sid``: the cached one while more than ``REUSE_MARGIN``
        of its TTL is left, else a freshly signed one."""
        now = time.time() if now is None else now
        key = (sid, user)
        cached = self._tokens.get(key)
        if cached is not None and cached[1] - now > self.ttl * REUSE_MARGIN:
            return cached[0]
        issued = int(now)
        token = assertion.issue(self.signer, user, self.ttl, now=issued)
        with self._lock:
            if len(self._tokens) >= self.max_cached:
                live = {k: v for k, v in self._tokens.items() if v[1] > now}
                self._tokens = live if len(live) < self.max_cached else {}
            self._tokens[key] = (token, issued + self.ttl)
        return token

    def forget(self, sid: str) -> None:
        """Drop the tokens of an ended session (this process's; the others' expire within the TTL)."""
        with self._lock:
            self._tokens = {k: v for k, v in self._tokens.items() if k[0] != sid}
