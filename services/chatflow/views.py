"""HTTP of the chatflow service (through Caddy at ``/api/chatflows``, behind forward_auth but for the catalogue).
See ``API.md``.

The user is always the verified caller; another user's session id answers 404 like an unknown one. Starting a
wizard needs the current terms (every flow starts with the terms gate).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import ValidationError

from services.chatflow.api import AnswerBody, Catalogue, Sessions, SessionView
from services.chatflow.service import Engine, NotFound
from services.common.errors import ApiError, FieldError
from services.common.openapi import Empty, operation
from services.common.web import require_accepted_terms, user

bp = Blueprint("chatflow", __name__)
# The views that move a wizard: limited together per user (app.py).
WIZARD_MOVES = ("chatflow.start", "chatflow.answer", "chatflow.back", "chatflow.restart")
CATALOGUE_SECONDS = 10.0  # how long a process serves the catalogue it built (a changed app definition shows after)
_ID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")


def engine() -> Engine:
    return current_app.extensions["chatflow_engine"]  # type: ignore[no-any-return]


def _not_found(what: str = "no such wizard session") -> ApiError:
    return ApiError(404, what, (FieldError("not_found", what),))


def _session_id(value: str) -> str:
    if not _ID.fullmatch(value):
        raise _not_found()
    return value


def _answers() -> dict[str, Any]:
    try:
        return AnswerBody.model_validate(request.get_json(silent=True)).answers
    except ValidationError:
        raise ApiError(
            422, 'send a JSON object {"answers": {...}}', (FieldError("invalid_json", "send answers"),)
        ) from None


class _CatalogueBody:
    """The catalogue's JSON and its ETag, built once per ``CATALOGUE_SECONDS`` per app (issue 16): the app
    definitions change only when the deployer restarts, and building the list costs three times a bare request.
    One without the deployer's apps (it did not answer) is never kept."""

    def __init__(self) -> None:
        self._kept: tuple[float, bytes, str] | None = None

    def get(self) -> tuple[bytes, str]:
        now = time.monotonic()
        if self._kept is not None and now - self._kept[0] < CATALOGUE_SECONDS:
            return self._kept[1], self._kept[2]
        entries, complete = engine().catalogue()
        body = json.dumps({"chatflows": entries}, separators=(",", ":")).encode()
        etag = hashlib.sha256(body).hexdigest()[:32]
        if complete:
            self._kept = (now, body, etag)
        return body, etag


@bp.get("/api/chatflows")
@operation("Every wizard that can be started", {200: Catalogue}, public=True)
def catalogue() -> Any:
    # Public (Caddy lets it through without a session): anyone may browse what can be deployed; starting a
    # wizard needs a session and the terms. A browser revalidates it by its ETag (304 while unchanged).
    body, etag = current_app.extensions.setdefault("chatflow_catalogue", _CatalogueBody()).get()
    # Caddy compresses the answer and marks its ETag so ("<tag>-gzip"); the browser sends that form back.
    if any(request.if_none_match.contains(etag + suffix) for suffix in ("", "-gzip", "-zstd")):
        return Response(status=304, headers={"ETag": f'"{etag}"', "Cache-Control": "no-cache"})
    response = Response(body, mimetype="application/json", headers={"Cache-Control": "no-cache"})
    response.set_etag(etag)
    return response


@bp.get("/api/chatflows/sessions")
@operation("The caller's unfinished wizard sessions", {200: Sessions})
def sessions() -> Any:
    return jsonify(sessions=engine().sessions(user().username))


@bp.post("/api/chatflows/<flow_type>")
@operation("Start a wizard of this type (needs the current terms)", {201: SessionView})
def start(flow_type: str) -> Any:
    owner = require_accepted_terms().username
    try:
        return jsonify(engine().start(owner, flow_type)), 201
    except NotFound:
        raise _not_found(f"unknown wizard {flow_type[:40]!r}") from None


@bp.get("/api/chatflows/sessions/<session_id>")
@operation("A wizard session at its current step", {200: SessionView})
def show(session_id: str) -> Any:
    try:
        return jsonify(engine().show(user().username, _session_id(session_id)))
    except NotFound:
        raise _not_found() from None


@bp.post("/api/chatflows/sessions/<session_id>/answer")
@operation(
    "Answer the current step; 200 with the next step, 422 naming each refused field",
    {200: SessionView},
    body=AnswerBody,
)
def answer(session_id: str) -> Any:
    caller = require_accepted_terms()
    answers = _answers()
    try:
        return jsonify(engine().answer(caller.username, _session_id(session_id), answers, caller.email))
    except NotFound:
        raise _not_found() from None


@bp.post("/api/chatflows/sessions/<session_id>/back")
@operation("Go back one step (answers kept)", {200: SessionView})
def back(session_id: str) -> Any:
    try:
        return jsonify(engine().back(user().username, _session_id(session_id)))
    except NotFound:
        raise _not_found() from None


@bp.post("/api/chatflows/sessions/<session_id>/restart")
@operation("Start the wizard again, answers cleared", {200: SessionView})
def restart(session_id: str) -> Any:
    try:
        return jsonify(engine().restart(user().username, _session_id(session_id)))
    except NotFound:
        raise _not_found() from None


@bp.delete("/api/chatflows/sessions/<session_id>")
@operation("Abandon and delete the session", {204: Empty("abandoned")})
def abandon(session_id: str) -> Response:
    try:
        engine().abandon(user().username, _session_id(session_id))
    except NotFound:
        raise _not_found() from None
    return Response(status=204)
