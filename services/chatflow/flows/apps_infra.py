"""The infrastructure steps every app shares (SOLUTIONS §1.10 steps 4-6): end date, currency and the plan (farm,
node, automatic domain, CU/SU, price) confirmed before a new pool is bought and paid, the payment, the
``<owner>_apps`` network, and the node and domain checked again in the paid pool.

Nothing here is chosen at random per request: a choice among equals (farm, node, parent domain, name suffix) is
drawn from the session id, so answering a step again (a retry, a double click) makes the same choice and the
idempotent purchase and submission are not repeated with other arguments.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from services.chatflow.flow import Context, Step
from services.chatflow.flows import pools
from services.chatflow.questions import Choice, Choices, Confirm, DateTime, Info, Progress, Question
from services.common import app_contracts, contracts, gateway_contracts
from services.common.app_sizing import app_resources, pool_units
from services.common.capacity import cu_su
from services.common.errors import ApiError, FieldError
from services.common.grid_price import reservation_price

APPS_NETWORK = "apps"  # the grid name is <owner>_apps (SOLUTIONS §0.3)
APPS_RANGE = "10.100.0.0/16"
CURRENCIES: Choices = [("FreeTFT", "FreeTFT"), ("TFT", "TFT"), ("TFTA", "TFTA")]
MIN_AHEAD = 3600  # the end date is at least one hour away
DEFAULT_AHEAD = 65 * 60
NO_CAPACITY = "no capacity available for this currency; choose another currency"
NO_DOMAIN = "no gateway domain available; try later"
NO_NODE = "no node of the new pool has room for this app; try again later"
NO_FARM_NODE = "no node of the farm has room for this app; try again later or choose another currency"
T = TypeVar("T")
App = app_contracts.AppInfo


def pick(ctx: Context, salt: str, items: Sequence[T]) -> T:
    """One of ``items``, the same one every time for this session (see the module docstring)."""
    seed = int(hashlib.sha256(f"{ctx.session_id}:{salt}".encode()).hexdigest()[:12], 16)
    return items[seed % len(items)]


def _refuse(field: str, reason: str) -> ApiError:
    return ApiError(422, "some answers need a change", (FieldError("refused", reason, field),))


# -- 4. end date ----------------------------------------------------------------------------------------------


def end_date_step() -> Step:
    def fields(ctx: Context) -> list[Question]:
        proposal = (datetime.now(UTC) + timedelta(seconds=DEFAULT_AHEAD)).strftime("%Y-%m-%dT%H:%M")
        return [DateTime("end", "Run the app until", default=proposal, future_only=True,
                         help="at least one hour from now; the capacity is bought until then (UTC)")]  # fmt: skip

    def check(ctx: Context, answers: Mapping[str, Any]) -> Mapping[str, str]:
        ahead = (datetime.fromisoformat(answers["end"]) - datetime.now(UTC)).total_seconds()
        return {} if ahead >= MIN_AHEAD else {"end": "choose a moment at least one hour from now"}

    def then(ctx: Context) -> None:
        # The duration is counted from this answer: a retried purchase later computes the same amounts.
        ctx.answers["priced_at"] = datetime.now(UTC).isoformat()

    return Step("end", "End date", fields, check=check, then=then)


def duration(ctx: Context) -> int:
    """``T = chosen − now`` in seconds, ``now`` being when the end date was answered."""
    end, start = datetime.fromisoformat(ctx.get("end")), datetime.fromisoformat(ctx.get("priced_at"))
    return max(MIN_AHEAD, int((end - start).total_seconds()))


# -- 5-6.3 currency and the plan, then the pool and its payment ----------------------------------------------
# Departure from §1.10's order (issue 13): the farm, node, domain, CU/SU and price are planned on the farm's nodes
# and shown for confirmation BEFORE the pool is bought and paid; after the payment the node is checked again in
# the paid pool (place).


def currency_step(app: App) -> Step:
    """The currency; answering it plans the deployment on a farm of ``APP_FARMS`` with room (nothing bought yet)."""

    def check(ctx: Context, answers: Mapping[str, Any]) -> Mapping[str, str]:
        size = app_resources(app, ctx.answers)
        farms = ctx.queries.app_farms(answers["currency"], size.cru, size.mru, size.sru, size.hru)
        return {} if farms else {"currency": NO_CAPACITY}

    field = Choice("currency", "Pay with", choices=CURRENCIES, default="FreeTFT",
                   help="a new capacity pool is bought for this app, on a farm that accepts this currency")  # fmt: skip
    return Step("currency", "Currency", [field], check=check, then=lambda ctx: plan(ctx, app))


def plan(ctx: Context, app: App) -> None:
    """The farm (§1.10 6.1), the pool's CU/SU and price, and the node and domain among the farm's nodes.

    Raises:
        ApiError: 422 on the currency when no farm, node or gateway domain fits.
    """
    size = app_resources(app, ctx.answers)
    farms = ctx.queries.app_farms(ctx.get("currency"), size.cru, size.mru, size.sru, size.hru)
    if not farms:
        raise _refuse("currency", NO_CAPACITY)
    farm = pick(ctx, "farm", sorted(farms, key=lambda f: f.farm_id))
    cu, su = cu_su(size)
    cus, sus = pool_units(app, ctx.answers, duration(ctx))
    ctx.answers.update(farm=farm.name or farm.label.split(" ")[0], farm_id=farm.farm_id, farm_nodes=farm.node_ids,
                       cu=cu, su=su, cus=cus, sus=sus, price=reservation_price(cus, sus))  # fmt: skip
    nodes = _fitting(ctx, app, farm.node_ids)
    if not nodes:
        raise _refuse("currency", NO_FARM_NODE)
    ctx.answers.update(node_id=pick(ctx, "node", nodes), planned_node=None)
    if app.exposure != "none":
        ctx.answers["domain"] = automatic_domain(ctx, ctx.queries.gateways(ctx.owner, [], farm.node_ids), "currency")


def plan_step(app: App) -> Step:
    """The plan, confirmed before the pool is bought and its QR shown; confirming buys it (§1.10 6.2)."""

    def fields(ctx: Context) -> list[Question]:
        text = ("Nothing is bought yet. Confirming reserves a new capacity pool on this farm and shows its payment "
                "QR code; the app is deployed after the payment, on this node and domain.")  # fmt: skip
        return [Confirm("plan", "Buy and pay for this plan?", help=text, rows=plan_rows(app, ctx))]

    def then(ctx: Context) -> None:
        seconds = duration(ctx)
        order = {"currency": ctx.get("currency"), "cus": ctx.get("cus"), "sus": ctx.get("sus"),
                 "days": -(-seconds // 86400), "farm_id": ctx.get("farm_id"), "pool_id": None}  # fmt: skip
        pools.purchase_pool(ctx, order, "plan")
        # The explorer's amount is the one to pay (the QR shows it); it is the planned price unless the grid differs.
        ctx.answers["price"] = ctx.get("payment", {}).get("amount") or ctx.get("price")

    return Step("plan", "Plan", fields, then=then)


def plan_rows(app: App, ctx: Context, bought: bool = False) -> list[tuple[str, str]]:
    """Farm, node, domain, CU/SU and the price in the chosen currency (issue 13), before or after buying."""
    units = "bought" if bought else "to buy"
    rows = [("Farm", str(ctx.get("farm"))), ("Node", str(ctx.get("node_id")))]
    if app.exposure != "none":
        rows.append(("Domain", f"https://{ctx.get('domain')}"))
    rows += [
        ("Compute units (CU)", f"{ctx.get('cu', 0):g} — {ctx.get('cus', 0)} CU-seconds {units}"),
        ("Storage units (SU)", f"{ctx.get('su', 0):g} — {ctx.get('sus', 0)} SU-seconds {units}"),
        ("Price", f"{ctx.get('price', '')} {ctx.get('currency', '')}"),
        ("Until", str(ctx.get("end"))),
    ]
    return rows


def _pool(ctx: Context) -> contracts.PoolSummary | None:
    # Fresh, not cached: the payment may have been credited a moment ago.
    ctx.queries.forget(contracts.POOLS_LIST_POOLS, contracts.OwnerQuery(owner=ctx.owner))
    return next((p for p in ctx.queries.pools(ctx.owner) if p.pool_id == int(ctx.get("pool_id", 0))), None)


def payment_step(app: App) -> Step:
    """The QR and the wait (§7); nothing goes on before the pool is active."""

    def check(ctx: Context, answers: Mapping[str, Any]) -> Mapping[str, str]:
        pool = _pool(ctx)
        if pool is not None and pool.state == "active" and pool.grid_pool_id:
            return {}
        shown = pool.grid_pool_id if pool is not None and pool.grid_pool_id else ctx.get("pool_id")
        return {"payment": f"payment not received yet for pool {shown}; if you paid, it will be activated "
                           "automatically — wait a moment and continue"}  # fmt: skip

    def then(ctx: Context) -> None:
        if _network_ready(ctx):
            place(ctx, app)
        else:
            _create_network(ctx)

    return Step("payment", "Payment", pools.payment_fields, check=check, then=then)


# -- 6.4 the apps network -------------------------------------------------------------------------------------


def _network_ready(ctx: Context) -> bool:
    return any(n.name == APPS_NETWORK for n in ctx.queries.networks(ctx.owner))


def _create_network(ctx: Context) -> None:
    """Submit the user's ``<owner>_apps`` network (SOLUTIONS §1.10 6.4) with an access node of the new pool."""
    pool = _pool(ctx)
    if pool is None or not pool.grid_pool_id:
        raise _refuse("payment", "the new pool is not active yet; wait a moment and continue")
    spec = {"name": APPS_NETWORK, "pool_ids": [pool.pool_id], "ipv6": False, "ip_range": APPS_RANGE}
    payload = contracts.SubmitSolution(
        idempotency_key=f"{ctx.session_id.replace('-', '')}-net", owner=ctx.owner, type="network", spec=spec,
        secrets="", pools=[contracts.VerifiedPool(pool_id=pool.pool_id, grid_pool_id=pool.grid_pool_id)],
    )  # fmt: skip
    result = ctx.queries.submit(payload)
    # Refused as taken: another deployment of this user is creating it right now; wait for that one.
    ctx.answers["network_solution_id"] = result.solution_id if result.ok else None
    ctx.answers["network_pending"] = True


def network_step(app: App) -> Step:
    """Shown while the apps network is being created; continues once it is deployed."""

    def fields(ctx: Context) -> list[Question]:
        text = ("Your private **apps network** (`10.100.0.0/16`) is being created. Its WireGuard file, `apps.conf`, "
                "is offered once at the end. Continue when it is deployed.")  # fmt: skip
        solution_id = ctx.get("network_solution_id")
        # The file is not offered here: apps.conf is offered once, at the end (network_handout).
        progress = [Progress("network_progress", "Apps network", solution_id=solution_id, offers_file=False)
                    ] if solution_id else []  # fmt: skip
        return [Info("network", "Apps network", markdown=text), *progress]

    def check(ctx: Context, answers: Mapping[str, Any]) -> Mapping[str, str]:
        return {} if _network_ready(ctx) else {"network": "the apps network is still being created; wait a moment"}

    return Step("network", "Apps network", fields, when=lambda ctx: bool(ctx.get("network_pending")), check=check,
                then=lambda ctx: place(ctx, app))  # fmt: skip


def network_handout(ctx: Context) -> list[Question]:
    """At the end, for a user whose apps network this session created: its WireGuard file, once (§1.10 9)."""
    solution_id = ctx.get("network_solution_id")
    if not solution_id:
        return []
    text = "Install WireGuard, then `wg-quick up ./apps.conf` to reach your apps' private addresses."
    return [Info("apps_conf", "Your apps network", markdown=text),
            Progress("network_progress", "Apps network", solution_id=solution_id, filename="apps.conf")]  # fmt: skip


# -- 6.5-6.6 node and domain ----------------------------------------------------------------------------------


def place(ctx: Context, app: App) -> None:
    """Check the plan again in the paid pool: the planned node (fits the app and its helper; has a public IPv6
    address when the app needs one) or, when it no longer fits, another node of the pool (kept in ``planned_node``
    to say so), and for an app with a public name the automatic domain (§1.9) on the pool's gateways.

    Raises:
        ApiError: 422 when the new pool has no node with room or no gateway domain is available.
    """
    size = app_resources(app, ctx.answers)
    pool_id = int(ctx.get("pool_id"))
    capable = ctx.queries.capable_pools(ctx.owner, size.cru, size.mru, size.sru, size.hru, 1)
    nodes = _fitting(ctx, app, next((p.node_ids for p in capable if p.pool_id == pool_id), []))
    if not nodes:
        raise _refuse(_placing_field(ctx), NO_NODE)
    planned = ctx.get("planned_node") or ctx.get("node_id")
    moved = planned not in nodes
    ctx.answers.update(planned_node=planned if moved else None, node_id=pick(ctx, "node", nodes) if moved else planned)
    if app.exposure != "none":
        pool = _pool(ctx)
        verified = [contracts.VerifiedPool(pool_id=pool.pool_id, grid_pool_id=pool.grid_pool_id)] if pool and \
            pool.grid_pool_id else []  # fmt: skip
        offers = ctx.queries.gateways(ctx.owner, verified) if verified else []
        ctx.answers["domain"] = automatic_domain(ctx, offers, _placing_field(ctx))


def _fitting(ctx: Context, app: App, node_ids: list[str]) -> list[str]:
    """The up nodes among ``node_ids`` with room for the app and its helper (and public IPv6 when it needs it)."""
    size = app_resources(app, ctx.answers)
    query = contracts.NodeChoicesQuery(node_ids=node_ids, cru=size.cru, mru=size.mru, sru=size.sru, hru=size.hru,
                                       public_ipv6=app.public_ipv6)  # fmt: skip
    return sorted(ctx.queries.node_choices(query)) if node_ids else []


def _placing_field(ctx: Context) -> str:
    """The step whose answer places the app (where a refusal is shown)."""
    return "network" if ctx.get("network_pending") else "payment"


def automatic_domain(ctx: Context, offers: list[gateway_contracts.GatewayOffer], field: str) -> str:
    """``<owner without dots>-<name>.<parent>`` on one of the gateways ``offers`` (the farm's when planning, the
    paid pool's after), a ``-<n>`` suffix while taken; a refusal is shown on ``field``.

    The name shown is the one planning uses: a parent where Let's Encrypt may not issue this week is passed over
    (planning would refuse it), and the suffix goes with the spec (``domain_suffix``, tried first by planning).
    Drawn from the session, the check after the payment finds the planned name again while it is still free.
    """
    parents = sorted({d for offer in offers for d in offer.managed_domains})
    if not parents:
        raise _refuse(field, NO_DOMAIN)
    label = f"{ctx.owner.replace('.', '')}-{ctx.get('name')}".replace("_", "-").lower()
    first = parents.index(pick(ctx, "parent", parents))
    draw = random.Random(f"{ctx.session_id}:suffix")  # noqa: S311 — a name suffix, not a secret
    reasons = []
    for parent in parents[first:] + parents[:first]:
        suffix: int | None = None
        for _ in range(5):
            candidate = f"{label}.{parent}" if suffix is None else f"{label}-{suffix}.{parent}"
            verdict = ctx.queries.domain_free(ctx.owner, candidate, parent)
            if verdict.ok:
                ctx.answers.update(parent_domain=parent, domain_suffix=suffix)
                return candidate
            if verdict.reason in gateway_contracts.PARENT_UNUSABLE:
                reasons.append(f"{parent}: {verdict.reason}")
                break
            suffix = draw.randint(1000, 100000)
    raise _refuse(field, NO_DOMAIN + (f" ({'; '.join(reasons)})" if reasons else ""))
