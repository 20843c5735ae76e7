"""Enforcement of HTTP signatures (§3.3) on the public API.

Every POST/PUT/DELETE needs a valid signature, except `POST /users` (a new identity has no id to sign with).
A GET may be unsigned, but a signature that is present must be valid; a valid one reveals `email` fields.
"""

from __future__ import annotations

from flask import g, request

from emulators.grid import directory_store
from emulators.grid.faults import API_PREFIX
from emulators.grid.httpsig import WWW_AUTHENTICATE, SignatureError, verify_request
from emulators.grid.wire import ApiError
from emulators.grid.world import current_world

_UNSIGNED_WRITES = {"directory.register_user"}


def authenticate() -> None:
    """before_request hook: sets ``g.signer_tid`` or raises ApiError(401) with the reason."""
    g.signer_tid = None
    # Unknown routes and wrong methods answer 404/405 whether signed or not.
    if not request.path.startswith(API_PREFIX) or request.url_rule is None:
        return
    authorization = request.headers.get("Authorization")
    write = request.method not in ("GET", "HEAD", "OPTIONS")
    if write and request.endpoint in _UNSIGNED_WRITES:
        return
    if not write and not authorization:
        return
    world = current_world()

    def pubkey_of(tid: int) -> str | None:
        with world.store.read() as conn:
            user = directory_store.get_user(conn, tid)
        return None if user is None else user.pubkey

    try:
        headers = {name.lower(): value for name, value in request.headers.items()}
        g.signer_tid = verify_request(authorization, headers, pubkey_of)
    except SignatureError as exc:
        raise ApiError(401, f"unauthorized access: {exc}", {"WWW-Authenticate": WWW_AUTHENTICATE}) from None
