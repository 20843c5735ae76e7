"""Generic container (SOLUTIONS §3.4): any hub.grid.tf image, optionally with a volume, coreX or an entrypoint."""

from __future__ import annotations

import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import requests

from services.chatflow.flow import Context, Flow, Step, Submission
from services.chatflow.flows import common
from services.chatflow.questions import Choice, Dropdown, Integer, SecretText, String

HUB_TIMEOUT = 5  # seconds per connect or read of one HEAD request (SOLUTIONS §3.4)
HUB_DEADLINE = 12.0  # seconds for the whole check (both HEADs), however slowly the hub dribbles its answer
# The one parser of an image URL: the request is made from the very text this matched. No userinfo, port,
# backslash, query or fragment can slip through for another parser (urllib3's) to read as another host.
HUB_IMAGE = re.compile(r"https://(?:[a-z0-9-]+\.)*hub\.grid\.tf(?:/[A-Za-z0-9._~+:-]+)+")
_HUB_CHECKS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hub-check")
ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_ENV = 64
MAX_VALUE = 4096
MOUNTPOINT = r"(/[A-Za-z0-9_][A-Za-z0-9._-]*)+"
# A variable whose name says it may hold a credential: its value travels and rests only encrypted (the deployer
# seals it to the node as secret_environment); the others are plain container environment.
POSSIBLY_SECRET = re.compile(r"PASS|SECRET|TOKEN|KEY|PRIVATE|CREDENTIAL|AUTH|CERT|SALT", re.IGNORECASE)


def secret_variable(key: str) -> bool:
    return bool(POSSIBLY_SECRET.search(key))


def _volume(ctx: Context) -> bool:
    return bool(ctx.get("volume") == "yes")


def _query(ctx: Context) -> tuple[float, float, float, float]:
    # SOLUTIONS §3.4 note: the volume adds its size in GiB to sru (not ceil(size/1024)).
    return common.container_query(ctx, extra_sru=int(ctx.get("volume_size", 0)) if _volume(ctx) else 0)


def hub_status(url: str) -> int:
    """The status of ``HEAD url``; a redirect is not followed (its 3xx is the answer: the hub serves images itself).

    Raises:
        requests.RequestException: no answer within :data:`HUB_TIMEOUT` per connect or read.
    """
    return requests.head(url, timeout=HUB_TIMEOUT, allow_redirects=False).status_code


def _ask_hub(url: str) -> str | None:
    for target in (url, f"{url}.md5"):
        try:
            status = hub_status(target)
        except requests.RequestException:
            return "could not reach the hub; check the URL or try again"
        if status != 200:
            return f"the hub has no such image ({target} answered {status})"
    return None


def image_problem(url: str, deadline: float = HUB_DEADLINE) -> str | None:
    """Why ``url`` is not a usable hub image (offline rules, then the hub itself), or ``None``.

    The hub must answer 200 to ``HEAD <url>`` and ``HEAD <url>.md5``: a typo in the name otherwise surfaces only
    as a container that never starts, minutes later. Only a URL that :data:`HUB_IMAGE` matches in full is ever
    requested, and the whole check ends within ``deadline`` seconds (a hub still dribbling its headers then is
    left to its per-read timeout in a bounded pool of threads).
    """
    if url.endswith(".md") or any(c.isspace() for c in url):
        return "must be the image itself (….flist), not its .md page"
    if not HUB_IMAGE.fullmatch(url):
        return "must be an https://hub.grid.tf/… image URL (no user, port, query or backslash)"
    future = _HUB_CHECKS.submit(_ask_hub, url)
    try:
        return future.result(timeout=deadline)
    except FutureTimeout:
        future.cancel()
        return "the hub did not answer in time; try again"


def _probe_image(answers: Mapping[str, Any]) -> Mapping[str, str]:
    url = answers.get("flist")
    if not isinstance(url, str):
        return {}  # the field itself refuses it
    problem = image_problem(url)
    return {"flist": problem} if problem else {}


def parse_environment(text: str | None) -> dict[str, str]:
    """``KEY=value`` per line (blank lines ignored) as a dict.

    Raises:
        ValueError: a line without ``=``, a key that is not a variable name, a repeated key, too many variables.
    """
    env: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"line {number}: expected KEY=value")
        if not ENV_KEY.fullmatch(key) or len(key) > 128:
            raise ValueError(f"line {number}: {key!r} is not a variable name (letters, digits, _; not a digit first)")
        if key in env:
            raise ValueError(f"line {number}: {key} is set twice")
        if len(value) > MAX_VALUE:
            raise ValueError(f"line {number}: the value is longer than {MAX_VALUE} characters")
        env[key] = value.rstrip("\r")
    if len(env) > MAX_ENV:
        raise ValueError(f"at most {MAX_ENV} variables")
    return env


def _check_environment(ctx: Context, answers: Mapping[str, Any]) -> Mapping[str, str]:
    try:
        parse_environment(answers.get("environment"))
    except ValueError as exc:
        return {"environment": str(exc)}
    return {}


def _rows(ctx: Context) -> list[tuple[str, str]]:
    logs = common.logs_spec(ctx)
    corex = ctx.get("corex") == "yes"
    rows = [
        ("Name", str(ctx.get("name"))),
        ("Image", str(ctx.get("flist"))),
        ("Network", str(ctx.get("network"))),
        ("Node", ctx.get("node_id") if ctx.get("node_auto") == "no" else "chosen automatically"),
        ("Pool", str(ctx.get("pool_id"))),
        ("CPU", str(ctx.get("cpu"))),
        ("Memory", f"{ctx.get('memory')} MiB"),
        ("Disk", f"{ctx.get('disk')} MiB"),
        ("Volume", f"{ctx.get('volume_size')} GiB at {ctx.get('volume_mountpoint')}" if _volume(ctx) else "no"),
        ("Web access (coreX)", "yes" if corex else "no"),
    ]
    if not corex:
        rows.append(("Entrypoint", ctx.get("entrypoint") or "the image's own"))
    # Values stay out of the table: they may be tokens; the keys are enough to recognise the settings.
    env = parse_environment(ctx.get("environment"))
    rows += [
        ("IP", "first free" if ctx.get("ip") == common.AUTO else str(ctx.get("ip"))),
        ("Public IPv6", str(ctx.get("ipv6"))),
        ("Logs", f"{logs['host']}:{logs['port']}/{logs['channel_name']}" if logs else "no"),
        ("Environment", ", ".join(f"{k} (secret)" if secret_variable(k) else k for k in env) or "none"),
    ]
    return rows


def _submit(ctx: Context) -> Submission:
    corex = ctx.get("corex") == "yes"
    env = parse_environment(ctx.get("environment"))  # a secret answer: ctx.get reads ctx.secrets too
    volume = {"size": ctx.get("volume_size"), "mountpoint": ctx.get("volume_mountpoint")} if _volume(ctx) else None
    spec = {
        "name": ctx.get("name"),
        "resources": {"cpu": ctx.get("cpu"), "memory": ctx.get("memory"), "disk": ctx.get("disk")},
        "volume": volume,
        "where": common.where(ctx),
        "network": ctx.get("network"),
        "flist": ctx.get("flist"),
        "corex": corex,
        # coreX replaces the entrypoint; one typed before switching coreX back on is dropped.
        "entrypoint": "" if corex else ctx.get("entrypoint", ""),
        "environment": {k: v for k, v in env.items() if not secret_variable(k)},
        "secret_environment": sorted(k for k in env if secret_variable(k)),
        "logs": common.logs_spec(ctx),
        "public_ipv6": ctx.get("ipv6") == "yes",
    }
    return Submission("flist", spec, {f"env_{k}": v for k, v in env.items() if secret_variable(k)})


FLOW = Flow(
    type="flist",
    title="Generic container",
    description="Run any image from the ThreeFold hub (hub.grid.tf) in your private network.",
    family="advanced",
    icon="/icons/flist.svg",
    steps=[
        common.name_step("flist"),
        Step("resources", "Container resources", common.resources_fields()),
        Step(
            "volume",
            "Extra volume",
            [Dropdown("volume", "Attach an extra volume?", choices=common.YES_NO, default="no")],
        ),
        Step(
            "volume_form",
            "Volume",
            [
                Integer("volume_size", "Volume size (GiB)", default=10, min=1, max=10 * 1024),
                String(
                    "volume_mountpoint",
                    "Mount point",
                    default="/data",
                    pattern=MOUNTPOINT,
                    max_length=255,
                    pattern_help="an absolute path like /data",
                ),
            ],
            when=_volume,
        ),
        common.pool_step(_query),
        common.network_step(),
        Step(
            "flist",
            "Image",
            [
                String(
                    "flist",
                    "Image URL",
                    max_length=512,
                    help="e.g. https://hub.grid.tf/tf-official-apps/redis_zinit.flist",
                )
            ],
            probe=_probe_image,
        ),
        Step(
            "corex",
            "Web access",
            [Choice("corex", "Web access to the container via coreX?", choices=common.YES_NO, default="yes")],
        ),
        Step(
            "entrypoint",
            "Entrypoint",
            [String("entrypoint", "Entrypoint", required=False, max_length=1024, help="empty: the image's own")],
            when=lambda ctx: ctx.get("corex") == "no",
        ),
        *common.node_steps(_query),
        *common.logs_steps(),
        common.ip_step(),
        Step(
            "environment",
            "Environment variables",
            [
                SecretText(
                    "environment",
                    "Environment variables",
                    required=False,
                    max_length=65_536,
                    help="one KEY=value per line; a value whose name mentions a password, secret, token or key "
                    "is sealed to the node and stored only encrypted",
                )
            ],
            check=_check_environment,
        ),
        common.ipv6_step(),
        common.confirm_step(_rows),
    ],
    submit=_submit,
)
