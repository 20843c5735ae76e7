"""Solution Expose (SOLUTIONS §3.9): a port of one of the user's private solutions on a public name.

Questions: the solution type, the solution, its ports, then the name — ``Managed <parent>`` (a managed domain of
a gateway in the user's pools), ``Delegated <domain>`` (a domain the user delegated, §3.10) or ``Custom Domain``.
Managed and delegated names take a label (no dots) that must not resolve yet (asked of the deployer, which asks
``DNS_RESOLVER``): otherwise the label is asked again. A custom domain takes the full name and a gateway, then the
CNAME record the user must create. The tunnel secret is the deployer's: the wizard never sees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.chatflow.flow import Context, Flow, Step, Submission
from services.chatflow.flows import common
from services.chatflow.flows import gateway_choice as gateways
from services.chatflow.flows.gateways import offers
from services.chatflow.questions import Choice, Dropdown, Info, Integer, Question, String
from services.common import gateway_contracts, grid_rules

TYPE = "exposed"
TYPES = [("minio", "MinIO"), ("kubernetes", "Kubernetes"), ("ubuntu", "Ubuntu"), ("flist", "Generic container"),
         ("gitea", "Gitea")]  # fmt: skip
PORTS = {"minio": (9000, 9000), "kubernetes": (6443, 6443), "gitea": (3000, 3000)}  # (TLS port, port)
CUSTOM = "custom"


def _targets(ctx: Context) -> list[gateway_contracts.ExposeTarget]:
    return ctx.queries.expose_targets(ctx.owner, ctx.get("solution_type"))


def _target(ctx: Context) -> gateway_contracts.ExposeTarget | None:
    if not ctx.get("solution_id"):
        return None
    return next((t for t in _targets(ctx) if t.solution_id == ctx.get("solution_id")), None)


def _solution_fields(ctx: Context) -> list[Question]:
    choices = [(t.solution_id, f"{t.name} ({t.ip})") for t in _targets(ctx)]
    kind = dict(TYPES)[ctx.get("solution_type")]
    return [Dropdown("solution_id", "Solution", choices=choices,
                     help="" if choices else f"you have no deployed {kind} solution to expose")]  # fmt: skip


def _port_fields(ctx: Context) -> list[Question]:
    tls, plain = PORTS.get(ctx.get("solution_type"), (443, 80))
    return [Integer("tls_port", "TLS port", default=tls, min=1, max=65535),
            Integer("port", "Port", default=plain, min=1, max=65535)]  # fmt: skip


def _domains(ctx: Context) -> list[tuple[str, str, gateway_contracts.GatewayOffer | None]]:
    """(choice, label, gateway) for every managed domain, every delegated domain, and the custom one."""
    gws = offers(ctx)
    managed: dict[str, gateway_contracts.GatewayOffer] = {}
    for gw in gws:
        for parent in gw.managed_domains:
            managed.setdefault(parent, gw)
    by_id = {gw.node_id: gw for gw in gws}
    out: list[tuple[str, str, gateway_contracts.GatewayOffer | None]] = [
        (f"managed:{parent}", f"Managed {parent}", gw) for parent, gw in sorted(managed.items())
    ]
    out += [(f"delegated:{d.domain}", f"Delegated {d.domain}", by_id.get(d.gateway_id))
            for d in ctx.queries.delegated_domains(ctx.owner) if d.gateway_id in by_id]  # fmt: skip
    return [*out, (CUSTOM, "Custom Domain", None)]


def _domain_fields(ctx: Context) -> list[Question]:
    return [Choice("domain", "Domain", choices=[(value, label) for value, label, _ in _domains(ctx)])]


def _is_custom(ctx: Context) -> bool:
    return bool(ctx.get("domain") == CUSTOM)


def _fqdn(ctx: Context) -> str:
    if _is_custom(ctx):
        return gateways.normal(ctx.get("custom_domain"))
    return f"{gateways.normal(ctx.get('label'))}.{str(ctx.get('domain')).partition(':')[2]}"


def _gateway(ctx: Context) -> gateway_contracts.GatewayOffer | None:
    if not ctx.get("domain"):
        return None
    if _is_custom(ctx):
        return gateways.chosen(ctx)
    return next((gw for value, _, gw in _domains(ctx) if value == ctx.get("domain")), None)


def _check_label(ctx: Context, answers: Mapping[str, Any]) -> Mapping[str, str]:
    label = gateways.normal(answers.get("label"))
    if (problem := grid_rules.label_problem(label)) is not None:
        return {"label": problem}
    fqdn = f"{label}.{str(ctx.get('domain')).partition(':')[2]}"
    if (problem := grid_rules.domain_problem(fqdn)) is not None:
        return {"label": problem}
    verdict = ctx.queries.domain_free(ctx.owner, fqdn)
    return {} if verdict.ok else {"label": f"{verdict.reason}; choose another label"}


def _cname(ctx: Context) -> list[Question]:
    gw = gateways.chosen(ctx)
    targets = ", ".join(gw.dns_nameserver) if gw else ""
    text = (f"Create a **CNAME** record for `{_fqdn(ctx)}` pointing to `{targets}` at your DNS provider: the "
            "gateway answers for the name once it points there.")  # fmt: skip
    return [Info("cname", "DNS record", markdown=text)]


def _rows(ctx: Context) -> list[tuple[str, str]]:
    target, gw = _target(ctx), _gateway(ctx)
    return [("Solution", target.name if target else ""), ("Type", ctx.get("solution_type")),
            ("Solution IP", target.ip if target else ""), ("Port", str(ctx.get("port"))),
            ("TLS port", str(ctx.get("tls_port"))), ("Domain", _fqdn(ctx)),
            ("Gateway", gw.node_id if gw else ""), ("Pool", str(gw.pool_id) if gw else "")]  # fmt: skip


def _submit(ctx: Context) -> Submission:
    target, gw = _target(ctx), _gateway(ctx)
    if target is None or gw is None:  # gone since the question was asked: the deployer refuses a None
        return Submission(TYPE, {"name": _fqdn(ctx), "solution_id": ctx.get("solution_id")})
    kind, _, parent = str(ctx.get("domain")).partition(":")
    spec = {
        "name": _fqdn(ctx),
        "solution_type": ctx.get("solution_type"),
        "solution_id": target.solution_id,
        "port": ctx.get("port"),
        "tls_port": ctx.get("tls_port"),
        "domain_type": kind,
        "parent": parent or None,
        "gateway": {"node_id": gw.node_id, "pool_id": gw.pool_id},
        "target": {"pool_id": target.pool_id, "network": target.network, "ip": target.ip},
    }
    return Submission(TYPE, spec)


FLOW = Flow(
    type=TYPE,
    title="Solution Expose",
    description="Publish a port of one of your solutions under a domain, through a gateway.",
    family="advanced",
    icon="/icons/exposed.svg",
    steps=[
        Step("solution_type", "Solution type", [Choice("solution_type", "Which kind of solution?", choices=TYPES)]),
        Step("solution_id", "Solution", _solution_fields),
        Step("ports", "Ports", _port_fields),
        Step("domain", "Domain", _domain_fields),
        Step(
            "label",
            "Name",
            [
                String(
                    "label",
                    "Label",
                    max_length=63,
                    help="the part before the domain, no dots",
                    pattern_help=grid_rules.LABEL_HELP,
                )
            ],
            when=lambda ctx: not _is_custom(ctx),
            check=_check_label,
        ),
        Step(
            "custom_domain",
            "Custom domain",
            [String("custom_domain", "Domain", max_length=253, help="the full name, e.g. app.example.com")],
            when=_is_custom,
            check=gateways.domain_check("custom_domain"),
        ),
        gateways.gateway_step(when=_is_custom),
        Step("cname", "DNS record", _cname, when=_is_custom),
        common.confirm_step(_rows),
    ],
    submit=_submit,
)
