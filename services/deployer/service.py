"""The deployer's rules behind its tasks and its HTTP API: submit, list, show, cancel (no Flask, no Celery here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2.errors
from pydantic import ValidationError

from services.common import app_contracts, contracts, gateway_contracts
from services.common.capacity import Resources
from services.common.db import Database
from services.common.identity import Identity, IdentityError
from services.common.settings import Settings
from services.deployer import exposure, finishing, network_store, networks, pool_capacity, states, store, teardown
from services.deployer.apps import catalogue
from services.deployer.apps.loader import DefinitionError
from services.deployer.grid.node_finder import NodeQuery, fitting_nodes
from services.deployer.network_ops import SolutionNetwork
from services.deployer.solutions import PLANNERS, app_registry, listed_types
from services.deployer.solutions.network_use import network_hooks


class NotFound(Exception):
    """No such solution for this user (another user's solution reads the same)."""


class Conflict(Exception):
    """The request cannot be honoured now; the message says why."""


def install_apps(settings: Settings) -> None:
    """Start-up: the operator's app definitions (``APP_DEFINITIONS_DIR``) join the built-in ones.

    Raises:
        SystemExit: a definition file is bad — one line naming the file, the key and the reason.
    """
    try:
        app_registry.install(settings, PLANNERS)
    except DefinitionError as exc:
        raise SystemExit(f"configuration error: {exc}") from None


def app_catalogue() -> list[app_contracts.AppInfo]:
    """Every app this deployer runs (built-in and the operator's), by title."""
    return catalogue.catalogue(app_registry.definitions(PLANNERS))


def _refusal(field: str, description: str) -> contracts.SubmitResult:
    return contracts.SubmitResult(ok=False, errors=[contracts.SubmitError(field=field, description=description)])


def submit(db: Database, identity: Identity, settings_deadline: int,
           payload: contracts.SubmitSolution) -> tuple[contracts.SubmitResult, bool]:  # fmt: skip
    """Create the solution for ``payload`` (once per idempotency key); returns (answer, newly created).

    The spec is validated against the planner's model; secrets are checked to decrypt and to hold every secret
    the spec needs, and the generated ones (e.g. a ZDB password) are added before they are stored encrypted.
    """
    planner = PLANNERS.get(payload.type)
    if planner is None:
        return _refusal("type", f"unknown solution type {payload.type!r}"), False
    try:
        secrets = identity.decrypt_secrets(payload.secrets) if payload.secrets else {}
    except IdentityError:
        return _refusal("secrets", "the secrets are not encrypted to this marketplace"), False
    try:
        spec = planner.spec_model.model_validate(planner.spec_model.complete(dict(payload.spec), secrets))
    except ValidationError as exc:
        errors = [contracts.SubmitError(field=".".join(str(p) for p in e["loc"]) or "spec", description=e["msg"])
                  for e in exc.errors()]  # fmt: skip
        return contracts.SubmitResult(ok=False, errors=errors), False
    missing = [name for name in spec.required_secrets() if not isinstance(secrets.get(name), str) or not secrets[name]]
    if missing:
        return _refusal(missing[0], f"the secret {missing[0]!r} is required"), False
    problems = spec.secret_problems(secrets)
    if problems:
        name = next(iter(problems))
        return _refusal(name, problems[name]), False
    secrets.update(spec.fresh_secrets())  # made here, whatever the request carried under those names
    sealed = identity.encrypt_secrets(secrets) if secrets else None
    try:
        with db.transaction() as cur:
            if (problem := exposure.submit_problem(cur, payload.owner, payload.type, spec)) is not None:
                return contracts.SubmitResult(ok=False, errors=[problem]), False
            row, created = store.insert_solution(
                cur, key=payload.idempotency_key, owner=payload.owner, type=payload.type, name=spec.name,
                spec=spec.model_dump(mode="json"), secrets=sealed, deadline_seconds=settings_deadline,
                listed=payload.type in listed_types(),  # an access point shows with its network, not on its own
            )  # fmt: skip
            if created:
                store.add_event(cur, str(row["id"]), "submitted")
                pool_capacity.record_verified(cur, str(row["id"]), payload.pools)
    except psycopg2.errors.UniqueViolation:
        return _refusal("name", f"you already have a {payload.type} solution named {spec.name!r}"), False
    if row["owner"] != payload.owner or row["type"] != payload.type:
        return _refusal("idempotency_key", "this key was already used for another deployment"), False
    result = contracts.SubmitResult(ok=True, solution_id=str(row["id"]), status=row["status"])
    return result, created


def _listed(sol: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    planner = PLANNERS.get(sol["type"])
    keys: dict[str, Any] = {"Name": sol["name"], "wids": []}
    if planner is not None:
        spec = planner.spec_model.model_validate(sol["spec"])
        keys = planner.listing(spec, finishing.views(sol, rows))
    return {
        "id": str(sol["id"]),
        "type": sol["type"],
        "name": sol["name"],
        "status": sol["status"],
        "error": sol["error"],
        "created": sol["created_at"].isoformat(),
        **keys,
    }


def list_solutions(db: Database, owner: str, type: str | None) -> list[dict[str, Any]]:
    """The owner's solutions (of ``type``) with their listing keys, read from our own tables only.

    Raises:
        NotFound: ``type`` is not a solution type.
    """
    if type is not None and type not in listed_types():
        raise NotFound(type)
    with db.transaction() as cur:
        solutions = store.solutions_of(cur, owner, type)
        rows = store.workloads_by_solution(cur, [str(s["id"]) for s in solutions])
    return [_listed(s, rows.get(str(s["id"]), [])) for s in solutions]


def count(db: Database, owner: str) -> dict[str, int]:
    with db.transaction() as cur:
        counts = store.count_by_type(cur, owner)
    return {t: counts.get(t, 0) for t in listed_types()}


def show(db: Database, owner: str, solution_id: str) -> dict[str, Any]:
    """One solution with its events, outputs and workloads.

    Raises:
        NotFound: not a solution of ``owner``.
    """
    with db.transaction() as cur:
        sol = store.solution(cur, solution_id, owner=owner)
        if sol is None:
            raise NotFound(solution_id)
        rows = store.workloads_of(cur, solution_id)
        events = store.events(cur, solution_id)
    listed = _listed(sol, rows)
    return {
        **listed,
        "outputs": sol["outputs"],
        "wireguard_config": "available" if sol["secret_outputs"] else None,
        "events": [{"at": e["at"].isoformat(), "level": e["level"], "message": e["message"]} for e in events],
        "workloads": [
            {"id": w["grid_id"], "kind": w["kind"], "key": w["key"], "node": w["node_id"], "pool": w["pool_id"],
             "state": w["state"], "error": w["error"]}
            for w in rows
        ],
    }  # fmt: skip


def cancel(db: Database, owner: str, solution_id: str) -> tuple[dict[str, Any], bool]:
    """Start cancelling (idempotent); returns (solution, whether a pass must be sent).

    Raises:
        NotFound: not a solution of ``owner``.
        Conflict: a network that other live solutions still use, or a delegated domain live exposed solutions
            stand on.
    """
    with db.transaction() as cur:
        sol = store.solution(cur, solution_id, owner=owner, lock=True)
        if sol is None:
            raise NotFound(solution_id)
        if sol["status"] in ("cancelling", "cancelled"):
            return sol, False
        planner = PLANNERS.get(sol["type"])
        refusal = network_hooks(planner).cancel_refusal(SolutionNetwork(None, sol, cur)) if planner else None
        if refusal is not None:
            raise Conflict(refusal)
        if (conflict := exposure.cancel_conflict(cur, sol)) is not None:  # under the row lock taken above
            raise Conflict(conflict)
        # The row is locked (FOR UPDATE above): the compare-and-set cannot miss; a teardown has its own deadline.
        if not store.set_status(
            cur,
            solution_id,
            states.CANCELLING,
            expected=sol["status"],
            wake_token=None,
            deadline=datetime.now(UTC) + timedelta(seconds=teardown.TEARDOWN_SECONDS),
        ):
            return sol, False
        store.add_event(cur, solution_id, "cancelling: removing every workload from the grid")
        sol = store.solution(cur, solution_id)
    assert sol is not None
    return sol, True


# -- the wizards' questions (answered over Celery within QUERY_TIMEOUT) -------------------------------------------


def networks_of(db: Database, owner: str) -> list[contracts.NetworkInfo]:
    """The owner's deployed networks by short name, with the nodes already in each."""
    with db.transaction() as cur:
        nets = network_store.networks_of(cur, owner)
        out = []
        for net in nets:
            nodes = sorted({s["node_id"] for s in network_store.subnets(cur, net["id"]) if s["node_id"]})
            short = net["name"].split("_", 1)[1] if "_" in net["name"] else net["name"]
            out.append(contracts.NetworkInfo(name=short, ip_range=str(net["ip_range"]), nodes=nodes))
    return out


def name_free(db: Database, owner: str, type: str, name: str) -> bool:
    """True when the owner has no live solution of this type with this name (the unique index decides at submit)."""
    with db.transaction() as cur:
        return not store.live_name_taken(cur, owner, type, name)


def node_choices(db: Database, over_provisioning: bool, query: contracts.NodeChoicesQuery) -> list[str]:
    """Up nodes of a pool that fit the resources, for the wizard's "choose a node" drop-down."""
    node_query = NodeQuery(Resources(query.cru, query.mru, query.sru, query.hru), node_ids=query.node_ids,
                           public_ipv4=query.public_ipv4, public_ipv6=query.public_ipv6)  # fmt: skip
    with db.transaction() as cur:
        nodes = fitting_nodes(cur, node_query, 500, over_provisioning=over_provisioning)
    return [node.node_id for node in nodes]


def expose_targets(db: Database, owner: str, type: str) -> list[gateway_contracts.ExposeTarget]:
    with db.transaction() as cur:
        return exposure.targets(cur, owner, type)


def delegated_domains(db: Database, owner: str) -> list[gateway_contracts.DelegatedDomain]:
    with db.transaction() as cur:
        return exposure.delegated_domains(cur, owner)


def free_ips(db: Database, owner: str, network: str, node_id: str) -> list[str]:
    """Free IPs on the node's /24 of the owner's network (none when the node is not in it yet)."""
    with db.transaction() as cur:
        net = network_store.network_by_name(cur, networks.grid_name(owner, network))
        if net is None or net["owner"] != owner:
            return []
        subnet = next((s["cidr"] for s in network_store.subnets(cur, net["id"]) if s["node_id"] == node_id), None)
        return [] if subnet is None else network_store.free_ips(cur, net["id"], subnet, limit=253)
