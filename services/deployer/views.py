"""HTTP of the deployer (through Caddy at ``/api/solutions``, behind forward_auth): list, show, cancel, and the
one-time WireGuard download.

Everything is owner-scoped: the user comes from the verified assertion only, and another user's solution id
answers 404 exactly like an unknown one. Listings read the deployer's own tables — never the grid.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from services.common.contracts import DEPLOYER_ADVANCE, AdvanceSolution
from services.common.errors import ApiError, FieldError
from services.common.identity import Identity
from services.common.openapi import operation
from services.common.tasks import send
from services.common.web import deps, user
from services.deployer import service, wireguard
from services.deployer.api import WIREGUARD, Counts, ListQuery, Solution, Solutions

bp = Blueprint("deployer", __name__)
_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")


def _not_found(what: str = "no such solution") -> ApiError:
    return ApiError(404, what, (FieldError("not_found", what),))


def _solution_id(value: str) -> str:
    if not _UUID.fullmatch(value):
        raise _not_found()
    return value


def identity() -> Identity:
    return current_app.extensions["deployer_identity"]  # type: ignore[no-any-return]


@bp.get("/api/solutions")
@operation("The caller's solutions", {200: Solutions}, query=ListQuery)
def list_solutions() -> Any:
    owner = user().username
    solution_type = ListQuery.model_validate(request.args.to_dict()).type or None
    try:
        solutions = service.list_solutions(deps().db, owner, solution_type)
    except service.NotFound:
        raise _not_found(f"unknown solution type {solution_type!r}") from None
    return jsonify(solutions=solutions)


@bp.get("/api/solutions/count")
@operation("How many solutions the caller has, per type", {200: Counts})
def count_solutions() -> Any:
    return jsonify(service.count(deps().db, user().username))


@bp.get("/api/solutions/<solution_id>")
@operation("One solution: events, outputs, workloads", {200: Solution})
def show_solution(solution_id: str) -> Any:
    try:
        return jsonify(service.show(deps().db, user().username, _solution_id(solution_id)))
    except service.NotFound:
        raise _not_found() from None


@bp.post("/api/solutions/<solution_id>/wireguard")
@operation("The WireGuard configuration, once (409 not ready yet, 410 already taken)", {200: WIREGUARD})
def download_wireguard(solution_id: str) -> Response:
    """The WireGuard config with the laptop's private key, as a file: handed out once, then erased.

    A POST (same-origin checked like every state-changing request): a GET — a prefetch, a crawler, a link opened
    twice — must never consume the only copy. ``wireguard.take`` erases it in the transaction that built the body.
    """
    try:
        download = wireguard.take(deps().db, identity(), user().username, _solution_id(solution_id))
    except wireguard.NoConfig:
        raise _not_found() from None
    except wireguard.NotReady as exc:
        raise ApiError(409, str(exc), (FieldError("not_ready", str(exc)),)) from None
    except wireguard.Gone as exc:
        raise ApiError(410, str(exc), (FieldError("gone", str(exc)),)) from None
    response = Response(download.config, mimetype="text/plain")
    response.headers["Content-Disposition"] = f'attachment; filename="{download.file_name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.delete("/api/solutions/<solution_id>")
@operation("Cancel (delete) a solution: 202, it is torn down in the background", {202: Solution})
def cancel_solution(solution_id: str) -> Any:
    owner = user().username
    try:
        sol, wake = service.cancel(deps().db, owner, _solution_id(solution_id))
    except service.NotFound:
        raise _not_found() from None
    except service.Conflict as exc:
        raise ApiError(409, str(exc), (FieldError("in_use", str(exc)),)) from None
    if wake:
        send(deps().celery, DEPLOYER_ADVANCE, AdvanceSolution(solution_id=str(sol["id"])))
    return jsonify(service.show(deps().db, owner, str(sol["id"]))), 202
