"""The four ways a solution is put on a public name through a gateway (SOLUTIONS §1.9), as workload plans.

* (S) :func:`subdomain` — DNS records for the name, pointing at the gateway's name servers;
* (T) :func:`reverse_proxy` + :func:`tcprouter_client` — a raw tunnel: HTTP and TLS bytes forwarded untouched to
  the application, which terminates TLS itself;
* (C) :func:`reverse_proxy` + :func:`tls_proxy` — nginx + certbot beside the application terminates TLS;
* (P) :func:`reverse_proxy` + :func:`tunnel_env` — the application image runs the tunnel client itself.

The tunnel secret is ``"<marketplace tid>:<32 random hex>"``: the random part is the solution secret
:data:`TUNNEL_SECRET` (generated at submission, stored encrypted; a spec lists it in ``generated_secrets``), and the
whole text only ever exists inside :class:`SealedTemplate` values — sealed to the **gateway** in the reverse proxy
and to the client's node in its ``secret_environment``. It is never in a plain field, so it cannot reach a
listing, an event, a confirmation table or a log. ``TEST_CERT`` reaches every TLS proxy and tunnel as
``"true"``/``"false"`` (Let's Encrypt staging or production).
"""

from __future__ import annotations

from collections.abc import Mapping

from services.common.capacity import Resources
from services.deployer.grid.kinds import Kind
from services.deployer.solutions import images
from services.deployer.solutions.base import (
    Marketplace,
    Placed,
    PlacedGateway,
    Sealed,
    SealedTemplate,
    WorkloadPlan,
    container_fields,
)

TUNNEL_SECRET = "tunnel_secret"  # noqa: S105 — the name of a generated secret, not a secret
# SOLUTIONS §1.9: the helper containers' fixed sizes (cpu, memory MiB, root disk MiB).
TCPROUTER_SIZE = (1, 1024, 256)
TLS_PROXY_SIZE = (1, 1024, 512)
SUFFIX_RANGE = (1000, 100000)  # the ``-<n>`` a taken label gets
LABEL_MAX = 63 - len(f"-{SUFFIX_RANGE[1]}")  # room for that suffix


def tunnel_secret(marketplace: Marketplace) -> SealedTemplate:
    """``"<tid>:<random hex>"`` sealed to whichever node the field is sent to."""
    return SealedTemplate(f"{marketplace.tid}:{{{TUNNEL_SECRET}}}", (TUNNEL_SECRET,))


def flag(value: bool) -> str:
    return "true" if value else "false"


def gateway_of(placed: Placed) -> PlacedGateway:
    if placed.gateway is None:
        raise ValueError(f"placement {placed.role!r} is not a gateway")
    return placed.gateway


def label(*parts: str) -> str:
    """A DNS label from name parts (SOLUTIONS §1.9): ``.`` removed, ``_`` and anything else not allowed → ``-``,
    lower case, at most 56 characters (a suffix may follow), no dash at either end."""
    text = "-".join(part.replace(".", "") for part in parts).lower()
    text = "".join(c if c.isascii() and (c.isalnum() or c == "-") else "-" for c in text)
    while "--" in text:
        text = text.replace("--", "-")
    return text[:LABEL_MAX].strip("-") or "solution"


def app_label(owner: str, name: str) -> str:
    """Apps: ``<owner>-<name>`` with dots removed (``alice.3bot`` + ``pad`` → ``alice3bot-pad``)."""
    return label(owner, name)


def advanced_label(owner: str, name: str) -> str:
    """Gitea, Gollum: ``<owner without .3bot>-<name>`` (``alice.3bot`` + ``git`` → ``alice-git``)."""
    return label(owner.removesuffix(".3bot"), name)


def subdomain(gw: Placed, key: str = "subdomain") -> WorkloadPlan:
    """(S) ``Subdomain{domain, ips}`` on the gateway, paid by the gateway pool."""
    info = gateway_of(gw)
    return WorkloadPlan(key, Kind.SUBDOMAIN, gw.role, {"domain": info.domain, "ips": list(info.ips)})


def reverse_proxy(gw: Placed, marketplace: Marketplace, key: str = "reverse_proxy") -> WorkloadPlan:
    """(T, C, P) ``Reverse_proxy{domain, secret}``: the tunnel secret sealed to the gateway."""
    info = gateway_of(gw)
    return WorkloadPlan(key, Kind.REVERSE_PROXY, gw.role, {"domain": info.domain, "secret": tunnel_secret(marketplace)})


def tcprouter_resources() -> Resources:
    """What a tcprouter client takes from its pool (``TCPROUTER_SIZE`` in GiB, rounded up)."""
    cpu, memory, disk = TCPROUTER_SIZE
    return Resources(cru=cpu, mru=-(-memory // 1024), sru=-(-disk // 1024), hru=0)


def tcprouter_client(gw: Placed, client: Placed, marketplace: Marketplace, *, network: str, target_ip: str,
                     port: int, tls_port: int, key: str = "tcprouter") -> WorkloadPlan:  # fmt: skip
    """(T) The tcprouter client container on ``client`` (its own IP in the network): forwards the gateway's HTTP
    and TLS traffic for the name to ``target_ip:port`` / ``target_ip:tls_port``."""
    info = gateway_of(gw)
    assert client.ip is not None  # the deployer gave it an IP in the network
    entrypoint = (f"/bin/trc -local {target_ip}:{port} -local-tls {target_ip}:{tls_port} "
                  f"-remote {info.tunnel_remote}")  # fmt: skip
    cpu, memory, disk = TCPROUTER_SIZE
    fields = container_fields(flist=images.TCPROUTER, cpu=cpu, memory=memory, disk=disk, network=network,
                              ip=client.ip, entrypoint=entrypoint,
                              secret_environment={"TRC_SECRET": tunnel_secret(marketplace)})  # fmt: skip
    return WorkloadPlan(key, Kind.CONTAINER, client.role, fields)


def tls_proxy(gw: Placed, proxy: Placed, marketplace: Marketplace, *, network: str, target_ip: str, port: int,
              email: str, enforce_https: bool = True, pubkey: str = "",
              key: str = "tls_proxy") -> WorkloadPlan:  # fmt: skip
    """(C) nginx + certbot + tunnel client on ``proxy`` (the application's node, its own IP), every env secret."""
    info = gateway_of(gw)
    assert proxy.ip is not None
    plain = {
        "TFGATEWAY": info.tunnel_remote,
        "EMAIL": email,
        "SOLUTION_IP": target_ip,
        "SOLUTION_PORT": str(port),
        "DOMAIN": info.domain,
        "ENFORCE_HTTPS": flag(enforce_https),
        "PUBKEY": pubkey,
        "TEST_CERT": flag(marketplace.test_cert),
    }
    secret: dict[str, Sealed | SealedTemplate] = {name: _literal(value) for name, value in plain.items()}
    secret["TRC_SECRET"] = tunnel_secret(marketplace)
    cpu, memory, disk = TLS_PROXY_SIZE
    fields = container_fields(flist=marketplace.flists["tls_proxy"], cpu=cpu, memory=memory, disk=disk,
                              network=network, ip=proxy.ip, entrypoint="bash /usr/local/bin/startup.sh",
                              secret_environment=secret)  # fmt: skip
    return WorkloadPlan(key, Kind.CONTAINER, proxy.role, fields)


def tunnel_env(gw: Placed, marketplace: Marketplace) -> tuple[dict[str, str], dict[str, Sealed | SealedTemplate]]:
    """(P) The env and secret env of an image that runs the tunnel client itself (merge them into its own)."""
    info = gateway_of(gw)
    env = {"TRC_REMOTE": info.tunnel_remote, "DOMAIN": info.domain, "TEST_CERT": flag(marketplace.test_cert)}
    return env, {"TRC_SECRET": tunnel_secret(marketplace)}


def _literal(value: str) -> SealedTemplate:
    """A plain value that must still go sealed (the TLS proxy's env is all secret): a template without fields."""
    return SealedTemplate(value.replace("{", "{{").replace("}", "}}"), ())


def public_url(placed: Mapping[str, Placed], role: str = "gateway") -> str:
    return f"https://{gateway_of(placed[role]).domain}"
