"""Per-user rate limits on Redis (flask-limiter, fixed windows), keyed by the verified caller only.

The key is the user of the request's assertion (:func:`services.common.web.user`), never anything the client
sends: a request without a valid assertion is a 401 before any counter moves. A limit reached answers 429 in the
standard error shape with ``Retry-After`` (the seconds until the window ends); nothing of the refused request runs.

A service wraps its views with :meth:`PerUserLimits.wrap` (several views may share one counter) and counts other
costly work done on a user's behalf with :meth:`PerUserLimits.hit`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from flask import Flask
from flask_limiter import Limiter, RequestLimit
from limits import RateLimitItem, RateLimitItemPerSecond

from services.common.errors import ApiError, FieldError
from services.common.web import user

log = structlog.get_logger(__name__)
KEY_PREFIX = "ratelimit"


def _caller() -> str:
    return user().username


def refusal(what: str, item: RateLimitItem, reset_at: float) -> ApiError:
    """The 429 of a reached limit: what was limited, the limit, and when to try again (``Retry-After``)."""
    wait = max(1, math.ceil(reset_at - time.time()))
    message = f"too many {what}: at most {item.amount} per {item.get_expiry()} seconds; try again in {wait} s"
    return ApiError(429, message, (FieldError("rate_limited", message),), {"Retry-After": str(wait)})


class PerUserLimits:
    """The rate limits of one web app, counted in its Redis (``REDIS_URL``)."""

    def __init__(self, app: Flask, redis_url: str) -> None:
        self.limiter = Limiter(
            key_func=_caller,
            app=app,
            storage_uri=redis_url,
            storage_options={"socket_timeout": 5, "socket_connect_timeout": 5},
            strategy="fixed-window",
            key_prefix=KEY_PREFIX,
            headers_enabled=False,
        )

    def wrap(self, app: Flask, endpoints: Iterable[str], scope: str, amount: int, seconds: int, what: str) -> None:
        """Limit the views ``endpoints`` of ``app`` together to ``amount`` requests per user per ``seconds``."""

        def breached(limit: RequestLimit) -> None:
            log.warning("rate limit reached", scope=scope)
            raise refusal(what, limit.limit, limit.window.reset_time)

        shared = self.limiter.shared_limit(f"{amount} per {seconds} second", scope, on_breach=breached)
        for endpoint in endpoints:
            app.view_functions[endpoint] = shared(app.view_functions[endpoint])  # type: ignore[assignment]

    def hit(self, scope: str, amount: int, seconds: int, what: str) -> None:
        """Count one unit of ``scope`` for the caller of the current request.

        Raises:
            ApiError: 429 once the caller used ``amount`` in this window (401 without a verified caller).
        """
        item = RateLimitItemPerSecond(amount, seconds)
        keys = (KEY_PREFIX, _caller(), scope)
        if not self.limiter.limiter.hit(item, *keys):
            log.warning("rate limit reached", scope=scope)
            raise refusal(what, item, self.limiter.limiter.get_window_stats(item, *keys).reset_time)

    def counter(self, scope: str, amount: int, seconds: int, what: str) -> Callable[[], Any]:
        """:meth:`hit` for ``scope`` as a function of no argument (for code that knows nothing of the web)."""
        return lambda: self.hit(scope, amount, seconds, what)
