"""The apps family (SOLUTIONS §1.10, §4): one generic wizard that runs every app definition of the deployer.

The definitions live with the deployer (one data file per app) and reach the chatflow through the
``deployer.app_catalogue`` query; a flow is built from each entry: Start (terms, checked by the web layer) → name
→ the app's questions → end date → currency → plan (farm, node, domain, CU/SU, price: shown before paying, issue
13) → a new pool bought and paid → the apps network on first use → overview (the plan checked again in the paid
pool) → deploy. No app has code of its own here.
"""

from __future__ import annotations

import hashlib
from typing import Any

from services.chatflow.flow import Context, Flow, Step, Submission
from services.chatflow.flows import apps_infra, common
from services.chatflow.queries import Queries
from services.chatflow.questions import Choice, Confirm, Dropdown, File, Integer, Question, Secret, String, Text
from services.common import app_contracts

FAMILY = "apps"
ICONS = "/icons/"  # frontend/icons/<file>.svg
SSH_KEY = "ssh_key"  # the ssh key field asked when the app takes one (spec ``ssh_key``, not an answer)
_built: dict[str, tuple[str, Flow]] = {}  # type → (digest of its definition, flow): rebuilt when it changes


def question(spec: app_contracts.AppQuestion) -> Question:
    """An app question as the wizard's own question type (API.md)."""
    base: dict[str, Any] = {"help": spec.help, "required": spec.required, "default": spec.default}
    text: dict[str, Any] = {"min_length": spec.min_length, "pattern": spec.pattern, "pattern_help": spec.pattern_help}
    if spec.max_length is not None:
        text["max_length"] = spec.max_length
    choices = [(c.value, c.label) for c in spec.choices or []]
    match spec.kind:
        case "secret":
            return Secret(spec.name, spec.label, **base, **text)
        case "text":
            return Text(spec.name, spec.label, **base, **text)
        case "integer":
            return Integer(spec.name, spec.label, **base, min=spec.min, max=spec.max)
        case "choice":
            return Choice(spec.name, spec.label, **{**base, "default": _str(spec.default)}, choices=choices)
        case "dropdown":
            return Dropdown(spec.name, spec.label, **{**base, "default": _str(spec.default)}, choices=choices)
    return String(spec.name, spec.label, **base, **text)


def ssh_key_field(app: app_contracts.AppInfo) -> list[Question]:
    """The user's public key when the app takes one (Ubuntu: required; the TLS proxy's PUBKEY: optional)."""
    if app.ssh_key == "none":
        return []
    return [File(SSH_KEY, "SSH public key", required=app.ssh_key == "required", accept=(".pub", ".txt", ".key"),
                 max_size=16_384, help="your public key file, e.g. ~/.ssh/id_ed25519.pub")]  # fmt: skip


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _answer_text(q: app_contracts.AppQuestion, value: Any) -> str:
    return {c.value: c.label for c in q.choices or []}.get(str(value), str(value))


def _rows(app: app_contracts.AppInfo, ctx: Context) -> list[tuple[str, str]]:
    """The plan before deploying: the answers, the pool and network, the app's size, then the plan as paid."""
    pay: dict[str, str] = ctx.get("payment", {})
    rows = [("Name", str(ctx.get("name")))]
    rows += [(q.label, _answer_text(q, ctx.get(q.name))) for q in app.questions
             if q.kind != "secret" and ctx.get(q.name) not in (None, "")]  # fmt: skip
    rows += [
        ("Pool", f"a new pool, paid (memo {pay.get('memo', '')})"),
        ("Network", f"{apps_infra.APPS_NETWORK} ({apps_infra.APPS_RANGE})"),
        ("CPU", str(app.cpu)),
        ("Memory (MiB)", str(app.memory)),
        ("Root disk (MiB)", str(app.disk)),
    ]
    return rows + apps_infra.plan_rows(app, ctx, bought=True)


def _overview_help(ctx: Context) -> str:
    moved = ctx.get("planned_node")
    note = (f"Node {moved} of the plan no longer has room in the paid pool: the app goes on node "
            f"{ctx.get('node_id')} instead. ") if moved else ""  # fmt: skip
    return note + ("Your capacity is paid. Deploy starts this plan: every workload is waited for, and all of them "
                   "are removed again if one fails.")  # fmt: skip


def _submit(app: app_contracts.AppInfo, ctx: Context) -> Submission:
    """The spec of apps_api.md §2; the secret answers travel encrypted, never in the spec."""
    secret_names = {q.name for q in app.questions if q.kind == "secret"}
    answers = {q.name: ctx.get(q.name) for q in app.questions if q.name not in secret_names}
    pool_id = int(ctx.get("pool_id"))
    spec: dict[str, Any] = {
        "name": ctx.get("name"),
        "pool_id": pool_id,
        "network": apps_infra.APPS_NETWORK,
        "node_id": ctx.get("node_id"),
        "email": ctx.email,
        "ssh_key": common.first_line(ctx.get(SSH_KEY)),
        "answers": answers,
    }
    if app.exposure != "none":
        spec.update(gateway_pool_ids=[pool_id], parent_domain=ctx.get("parent_domain"))
        if ctx.get("domain_suffix") is not None:
            spec["domain_suffix"] = ctx.get("domain_suffix")
    return Submission(app.type, spec, {name: ctx.secrets[name] for name in secret_names if ctx.secrets.get(name)})


def build(app: app_contracts.AppInfo) -> Flow:
    """The wizard of one app definition."""
    asked = [question(q) for q in app.questions] + ssh_key_field(app)
    steps = [
        common.name_step(app.type),
        Step("app", f"{app.title} settings", asked, when=lambda ctx: bool(asked)),
        apps_infra.end_date_step(),
        apps_infra.currency_step(app),
        apps_infra.plan_step(app),
        apps_infra.payment_step(app),
        apps_infra.network_step(app),
        Step("overview", "Overview",
             lambda ctx: [Confirm("confirm", "Deploy this?", help=_overview_help(ctx),
                                          rows=_rows(app, ctx))]),
    ]  # fmt: skip
    return Flow(type=app.type, title=app.title, description=app.description, family=FAMILY, icon=ICONS + app.icon,
                steps=steps, submit=lambda ctx: _submit(app, ctx), after_submit=apps_infra.network_handout)  # fmt: skip


def flows(queries: Queries) -> dict[str, Flow]:
    """A flow per app definition, in catalogue order (rebuilt only for a definition that changed).

    Raises:
        ServiceUnavailable: the deployer did not answer.
    """
    out = {}
    for app in queries.app_catalogue():
        digest = hashlib.sha256(app.model_dump_json().encode()).hexdigest()
        known = _built.get(app.type)
        if known is None or known[0] != digest:
            known = _built[app.type] = (digest, build(app))
        out[app.type] = known[1]
    return out
