"""A client of the grid explorer (GRID_API.md §2 to §4) shared by the services that talk to it.

Every request is signed with the marketplace identity (HTTP signatures, §3) and has a timeout. GETs are retried
with backoff on 5xx, connection errors and timeouts (3 attempts); POSTs that create things are never retried
blindly — a create may have succeeded although its answer was lost (§2.4), so the caller re-reads state.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import Any

import requests
import structlog

from services.common import explorer_metrics
from services.common.grid_identity import RegistrationError, ensure_registered
from services.common.identity import Identity
from services.common.settings import Settings

log = structlog.get_logger(__name__)


class ExplorerUnavailable(Exception):
    """The explorer did not answer in time, or failed (5xx): try again later (a 503 for users)."""


class ExplorerFailed(ExplorerUnavailable):
    """The explorer answered a POST with a 5xx: ``status`` and its error text. Still "unavailable" for callers
    that do not care; a caller that knows what a 5xx means for its request (an extension of a pool the explorer
    cannot extend answers 500, GRID_API §4.5) can tell it from a timeout."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"the grid explorer failed (HTTP {status}: {message})")
        self.status = status
        self.message = message


@dataclass
class ExplorerRejected(Exception):
    """The explorer refused the request (4xx): ``message`` is its error text."""

    status: int
    message: str

    def __str__(self) -> str:
        return f"explorer refused the request ({self.status}): {self.message}"


class Explorer:
    """Signed, time-limited access to one explorer."""

    def __init__(self, settings: Settings, identity: Identity, attempts: int = 3) -> None:
        self.settings = settings
        self.identity = identity
        self.base = settings.explorer_url
        self.attempts = attempts
        self._tid: int | None = None
        self.http = requests.Session()

    @property
    def tid(self) -> int:
        """Our phonebook id (looked up, or registered, once per process).

        Raises:
            ExplorerUnavailable: the explorer cannot tell us.
        """
        if self._tid is None:
            try:
                self._tid = ensure_registered(self.settings, self.identity)
            except RegistrationError as exc:
                raise ExplorerUnavailable(str(exc)) from None
        return self._tid

    def _timeout(self) -> tuple[float, float]:
        return (self.settings.http_connect_timeout, self.settings.http_read_timeout)

    @staticmethod
    def _error_text(response: requests.Response) -> str:
        try:
            return str(response.json().get("error", response.reason))
        except (ValueError, AttributeError):
            return response.reason or f"HTTP {response.status_code}"

    def get(self, path: str, params: dict[str, Any] | None = None) -> requests.Response:
        """GET with retries (backoff with jitter) on 5xx, connection errors and timeouts.

        Raises:
            ExplorerUnavailable: still failing after the last attempt.
            ExplorerRejected: a 4xx answer (never retried).
        """
        delay = 0.2
        for attempt in range(1, self.attempts + 1):
            headers = self.identity.http_signature_headers(self.tid)
            started = time.monotonic()
            try:
                response = self.http.get(f"{self.base}{path}", params=params, headers=headers, timeout=self._timeout())
            except requests.RequestException as exc:
                explorer_metrics.record("GET", path, None, time.monotonic() - started)
                reason = type(exc).__name__
            else:
                explorer_metrics.record("GET", path, response.status_code, time.monotonic() - started)
                if response.status_code < 400:
                    return response
                if response.status_code < 500:
                    raise ExplorerRejected(response.status_code, self._error_text(response))
                reason = f"HTTP {response.status_code}"
            log.warning("explorer GET failed", path=path, attempt=attempt, reason=reason)
            if attempt < self.attempts:
                time.sleep(delay + random.uniform(0, delay))  # noqa: S311 — jitter, not crypto
                delay *= 2
        raise ExplorerUnavailable(f"the grid explorer is unavailable ({reason})")

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            return self.get(path, params).json()
        except ValueError:
            raise ExplorerUnavailable("the grid explorer answered something that is not JSON") from None

    def list_all(self, path: str, params: dict[str, Any] | None = None, size: int = 500) -> list[dict[str, Any]]:
        """Every item of a paginated list (reads ``Pages`` from the first page)."""
        query = {**(params or {}), "page": 1, "size": size}
        first = self.get(path, query)
        items: list[dict[str, Any]] = list(first.json())
        pages = int(first.headers.get("Pages", "1") or 1)
        for page in range(2, min(pages, math.ceil(100_000 / size)) + 1):
            items.extend(self.get_json(path, {**query, "page": page}))
        return items

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """One signed POST, not retried.

        Raises:
            ExplorerUnavailable: no answer in time, or (as :class:`ExplorerFailed`) a 5xx; the request may or may
                not have taken effect.
            ExplorerRejected: a 4xx answer.
        """
        headers = self.identity.http_signature_headers(self.tid)
        started = time.monotonic()
        try:
            response = self.http.post(f"{self.base}{path}", json=body, headers=headers, timeout=self._timeout())
        except requests.RequestException as exc:
            explorer_metrics.record("POST", path, None, time.monotonic() - started)
            raise ExplorerUnavailable(f"the grid explorer did not answer ({type(exc).__name__})") from None
        explorer_metrics.record("POST", path, response.status_code, time.monotonic() - started)
        if response.status_code >= 500:
            raise ExplorerFailed(response.status_code, self._error_text(response))
        if response.status_code >= 400:
            raise ExplorerRejected(response.status_code, self._error_text(response))
        try:
            return response.json()
        except ValueError:
            return None

    def close(self) -> None:
        self.http.close()
