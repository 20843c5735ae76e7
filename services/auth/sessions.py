"""Server-side state of login in Redis: pending login attempts, sessions, and the per-address rate limit.

Keys hold a SHA-256 of the cookie value, never the value itself: a copy of Redis does not let anyone sign in.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import redis

from services.auth.service import new_state
from services.common.settings import Settings

ATTEMPT_TTL = 600  # an unanswered login attempt expires after 10 minutes (LOGIN_PROTOCOL §7.1)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    sid: str
    user_id: int
    username: str
    email: str
    created: float


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
        sid = secrets.token_urlsafe(32)
        now = time.time()
        body = json.dumps({"user_id": user_id, "username": username, "email": email, "created": now})
        session = Session(sid, user_id, username, email, now)
        self.redis.set(f"auth:session:{_digest(sid)}", body, ex=self.lifetime(session))
        return session

    def lifetime(self, session: Session) -> int:
        """Seconds ``session`` may still live if unused: the idle TTL, cut short by the absolute limit.

        Both the Redis key and the browser's cookie (``Max-Age``, renewed on use) get this, so neither outlives
        the absolute limit and the cookie never dies before a session the server still slides.
        """
        left = self.settings.session_absolute_ttl - (time.time() - session.created)
        return max(0, min(self.settings.session_ttl, int(left)))

    def get(self, sid: str | None) -> Session | None:
        """The live session of ``sid``, its idle expiry pushed back (sliding); None when unknown or too old."""
        if not sid or len(sid) > 128:
            return None
        key = f"auth:session:{_digest(sid)}"
        raw = self.redis.get(key)
        if raw is None:
            return None
        data = json.loads(raw)
        if time.time() - data["created"] > self.settings.session_absolute_ttl:
            self.redis.delete(key)
            return None
        session = Session(sid, int(data["user_id"]), data["username"], data["email"], float(data["created"]))
        self.redis.expire(key, max(1, self.lifetime(session)))
        return session

    def destroy(self, sid: str | None) -> None:
        if sid:
            self.redis.delete(f"auth:session:{_digest(sid)}")

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
