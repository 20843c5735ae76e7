"""Process settings: read once from the environment into a frozen object.

Nothing in the code base reads ``os.environ`` at import time; every process entry point calls
:func:`load_settings` (or tests build :class:`Settings` directly) and passes the object down.
A missing or malformed variable stops the process with one line that names it (see :func:`load_or_exit`).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo

from services.common.emulator_urls import emulator_name, emulator_url


def _check_url(value: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"must be a URL starting with {' or '.join(s + '://' for s in schemes)}")
    return value.rstrip("/")


def _url(schemes: tuple[str, ...]) -> AfterValidator:
    return AfterValidator(lambda value: _check_url(value, schemes))


_SSH_TARGET = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:\d{1,5}$")


def _ssh_target(value: str) -> str:
    if value and not _SSH_TARGET.fullmatch(value):
        raise ValueError("must look like user@host:port")
    return value


def _domain(value: str) -> str:
    # host[:port], no scheme: it becomes the login `appid` and the Caddy site address.
    if not re.fullmatch(r"[A-Za-z0-9.-]+(:\d{1,5})?", value):
        raise ValueError("must be a host name with an optional :port, without scheme or path")
    return value.lower()


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def parse_flag(value: object) -> bool:
    """The one reading of an on/off variable (``TEST_CERT``, ``OVER_PROVISIONING``) for the whole code base: the
    settings and the process launcher (deploy/role.py) must never disagree on whether staging certificates are on.

    Raises:
        ValueError: anything but 1/0, true/false, yes/no, on/off (any case) or a bool.
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("must be true or false")


def _host_port(value: str) -> str:
    # A resolver address: IPv4/host name and a port, or [IPv6]:port.
    match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})", value)
    if not match or not 0 < int(match.group(2)) < 65536:
        raise ValueError("must be host:port (e.g. 1.1.1.1:53, or [2606:4700::1111]:53)")
    return value


def _flist(value: str) -> str:
    if not re.fullmatch(r"https://[A-Za-z0-9.-]+(:\d{1,5})?/[A-Za-z0-9._/:@-]+\.flist", value):
        raise ValueError("must be an https URL of a .flist file (e.g. https://hub.grid.tf/<namespace>/<file>.flist)")
    return value


def _entrypoint_path(value: str) -> str:
    if not re.fullmatch(r"/[A-Za-z0-9._/-]{1,255}", value):
        raise ValueError("must be an absolute path of letters, digits, '.', '_', '-' and '/'")
    return value


def _ready_url(value: str) -> str:
    if "{fqdn}" not in value or value.count("{") != 1 or value.count("}") != 1:
        raise ValueError("must be an http(s) URL holding {fqdn} once (e.g. https://{fqdn}/admin)")
    _check_url(value.replace("{fqdn}", "example.org"), ("http", "https"))
    return value


def _names(value: object) -> tuple[str, ...]:
    # A comma-separated list in the environment ("freefarm,farm2"); a list when given in code.
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    names = tuple(str(item).strip() for item in items if str(item).strip())
    if not names or not all(re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", n) for n in names):
        raise ValueError("must be one or more farm names separated by commas (e.g. freefarm)")
    return names


def _optional_http_url(value: str) -> str:
    return _check_url(value, ("http", "https")) if value else value


# Caddy's own cap on request bodies (`request_body max_size` in proxy/Caddyfile): MAX_REQUEST_BODY stays below it.
BODY_LIMIT_CEILING = 4_000_000


def _refuse_emulator(value: str, info: ValidationInfo, why: str | None) -> str:
    # An outside system (explorer, login, KYC, CT log, resolver) must be the real one in production: an emulator
    # approves any login and pays any pool (services/common/emulator_urls.py says how one is recognised).
    if why is not None and info.data.get("app_env") == "production":
        raise ValueError(f"is an emulator's address ({why}) while APP_ENV=production; set the real service's")
    return value


def _not_emulator_url(value: str, info: ValidationInfo) -> str:
    return _refuse_emulator(value, info, emulator_url(value) if value else None)


def _not_emulator_resolver(value: str, info: ValidationInfo) -> str:
    # A local caching resolver (127.0.0.53:53) is fine in production: only an emulator's name is refused.
    host = value.rpartition(":")[0]
    return _refuse_emulator(value, info, "an emulator's host name" if emulator_name(host) else None)


OptionalHttpUrl = Annotated[str, AfterValidator(_optional_http_url)]
OutsideUrl = Annotated[str, _url(("http", "https")), AfterValidator(_not_emulator_url)]
OptionalOutsideUrl = Annotated[str, AfterValidator(_optional_http_url), AfterValidator(_not_emulator_url)]
PostgresUrl = Annotated[str, _url(("postgresql", "postgres"))]
RedisUrl = Annotated[str, _url(("redis", "rediss"))]
SshTarget = Annotated[str, AfterValidator(_ssh_target)]
Domain = Annotated[str, AfterValidator(_domain)]
Port = Annotated[int, Field(ge=1, le=65535)]
Flag = Annotated[bool, BeforeValidator(parse_flag)]
Resolver = Annotated[str, AfterValidator(_host_port), AfterValidator(_not_emulator_resolver)]
Flist = Annotated[str, AfterValidator(_flist)]
Names = Annotated[tuple[str, ...], BeforeValidator(_names)]
EntrypointPath = Annotated[str, AfterValidator(_entrypoint_path)]
ReadyUrl = Annotated[str, AfterValidator(_ready_url)]


class Settings(BaseModel):
    """Every setting of every process; field aliases are the environment variable names."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    app_env: Literal["dev", "test", "production"] = Field("production", alias="APP_ENV")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", alias="LOG_LEVEL")

    marketplace_domain: Domain = Field(alias="MARKETPLACE_DOMAIN")
    acme_email: str = Field("", alias="ACME_EMAIL")
    # Let's Encrypt staging instead of production: for the marketplace's own site (deploy/role.py) and for every
    # TLS proxy and in-image tunnel a solution deploys (SOLUTIONS §1.9, the container env TEST_CERT=true|false).
    test_cert: Flag = Field(False, alias="TEST_CERT")
    acme_ca: OptionalHttpUrl = Field("", alias="ACME_CA")

    database_url: PostgresUrl = Field(alias="DATABASE_URL")
    redis_url: RedisUrl = Field(alias="REDIS_URL")

    # The outside systems: never an emulator's address in production.
    explorer_url: OutsideUrl = Field(alias="EXPLORER_URL")
    threebot_login_url: OutsideUrl = Field(alias="THREEBOT_LOGIN_URL")
    # Where the services call the provider's API, when it differs from the address browsers are sent to
    # (compose: the browser goes through Caddy, the services use the internal name). Empty: THREEBOT_LOGIN_URL.
    threebot_login_api_url: OptionalOutsideUrl = Field("", alias="THREEBOT_LOGIN_API_URL")
    openkyc_url: OutsideUrl = Field(alias="OPENKYC_URL")

    identity_seed_file: Path = Field(alias="IDENTITY_SEED_FILE")
    identity_name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")] = Field(
        "marketplace.3bot", alias="IDENTITY_NAME"
    )
    identity_email: str = Field("marketplace@localhost", alias="IDENTITY_EMAIL")

    # The auth service signs a short-lived assertion per request (Caddy forward_auth); every service verifies it.
    # Only auth needs the seed; the others need AUTH_PUBLIC_KEY (hex) or, in dev, derive it from the seed file.
    auth_signing_seed_file: Path | None = Field(None, alias="AUTH_SIGNING_SEED_FILE")
    auth_public_key: Annotated[str, Field(pattern=r"^([0-9a-f]{64})?$")] = Field("", alias="AUTH_PUBLIC_KEY")
    assertion_ttl: Annotated[int, Field(ge=5, le=600)] = Field(60, alias="ASSERTION_TTL")
    session_ttl: Annotated[int, Field(ge=60, le=90 * 86400)] = Field(7 * 86400, alias="SESSION_TTL")
    session_absolute_ttl: Annotated[int, Field(ge=60, le=365 * 86400)] = Field(30 * 86400, alias="SESSION_ABSOLUTE_TTL")
    login_rate_limit: Annotated[int, Field(ge=1, le=10000)] = Field(30, alias="LOGIN_RATE_LIMIT")
    login_rate_window: Annotated[int, Field(ge=1, le=86400)] = Field(60, alias="LOGIN_RATE_WINDOW")
    grid_network: Literal["mainnet", "testnet", "devnet"] = Field("testnet", alias="GRID_NETWORK")

    # Pool payments (SOLUTIONS §7.4): how long the wizard waits, how long the escrow stays payable, how often
    # the beat-driven watcher asks the explorer.
    payment_wait: Annotated[int, Field(ge=10, le=3600)] = Field(300, alias="PAYMENT_WAIT")
    payment_expiry: Annotated[int, Field(ge=60, le=86400)] = Field(3600, alias="PAYMENT_EXPIRY")
    payment_watch_interval: Annotated[float, Field(ge=1, le=600)] = Field(10.0, alias="PAYMENT_WATCH_INTERVAL")

    over_provisioning: Flag = Field(False, alias="OVER_PROVISIONING")
    # The farms an app deployment may buy its pool on (SOLUTIONS §1.10): comma-separated farm names.
    app_farms: Names = Field(("freefarm",), alias="APP_FARMS")

    # Public domains (SOLUTIONS §1.9): the resolver asked whether a candidate domain already exists (and for the
    # addresses of the gateways' name servers), and the certificate-transparency log (crt.sh's JSON shape) read
    # for Let's Encrypt's weekly budget per parent domain. Locally both are the grid emulator's.
    dns_resolver: Resolver = Field("1.1.1.1:53", alias="DNS_RESOLVER")
    ct_log_url: OutsideUrl = Field("https://crt.sh", alias="CT_LOG_URL")

    # Community images (SOLUTIONS §2): deployment configuration, any hub.grid.tf flist.
    flist_gitea: Flist = Field(
        "https://hub.grid.tf/threefolddev/threefolddev-gitea_all_in_one-latest.flist", alias="FLIST_GITEA"
    )
    flist_gollum: Flist = Field(
        "https://hub.grid.tf/threefolddev/threefolddev-gollum-latest.flist", alias="FLIST_GOLLUM"
    )
    flist_tls_proxy: Flist = Field(
        "https://hub.grid.tf/tf-official-apps/tls-proxy:latest.flist", alias="FLIST_TLS_PROXY"
    )
    # The apps' images (SOLUTIONS §4; a definition names its image by one of these keys, or an official one).
    flist_cryptpad: Flist = Field(
        "https://hub.grid.tf/threefolddev/3bot-cryptopad-latest.flist", alias="FLIST_CRYPTPAD"
    )
    flist_discourse: Flist = Field(
        "https://hub.grid.tf/threefolddev/threefolddev-discourse_all_in_one-latest.flist", alias="FLIST_DISCOURSE"
    )
    flist_mattermost: Flist = Field(
        "https://hub.grid.tf/threefolddev/threefolddev-mattermost-latest.flist", alias="FLIST_MATTERMOST"
    )
    flist_peertube: Flist = Field(
        "https://hub.grid.tf/threefolddev/threefolddev-peertube-latest.flist", alias="FLIST_PEERTUBE"
    )
    flist_taiga: Flist = Field("https://hub.grid.tf/threefolddev/threefolddev-taiga-latest.flist", alias="FLIST_TAIGA")
    flist_publisher: Flist = Field(
        "https://hub.grid.tf/threefolddev/threefolddev-publisher-latest.flist", alias="FLIST_PUBLISHER"
    )
    # The hosted 3Bot (SOLUTIONS §3.12): its image and the entrypoint script inside it (run as
    # ``/bin/bash <THREEBOT_ENTRYPOINT>``, SOLUTIONS §2).
    flist_threebot: Flist = Field(
        "https://hub.grid.tf/threefolddev/threefolddev-js-sdk-latest.flist", alias="FLIST_THREEBOT"
    )
    threebot_entrypoint: EntrypointPath = Field(
        "/sandbox/code/github/threefoldtech/js-sdk/jumpscale/packages/threebot_deployer/entrypoint.sh",
        alias="THREEBOT_ENTRYPOINT",
    )
    # Its "initialising" wait: ``THREEBOT_READY_URL`` (``{fqdn}`` replaced by the 3Bot's name) is asked every
    # THREEBOT_READY_INTERVAL seconds for up to THREEBOT_READY_WAIT seconds; THREEBOT_READY_CA, when set, is the CA
    # bundle its certificate is checked against (a test double's; the public CAs otherwise).
    threebot_ready_url: ReadyUrl = Field("https://{fqdn}/admin", alias="THREEBOT_READY_URL")
    threebot_ready_ca: Path | None = Field(None, alias="THREEBOT_READY_CA")
    threebot_ready_wait: Annotated[float, Field(ge=1, le=86400)] = Field(600.0, alias="THREEBOT_READY_WAIT")
    threebot_ready_interval: Annotated[float, Field(ge=0.1, le=600)] = Field(10.0, alias="THREEBOT_READY_INTERVAL")
    # More app definitions (issue 13): every *.yaml of this directory, validated at start-up like the built-in ones.
    app_definitions_dir: Path | None = Field(None, alias="APP_DEFINITIONS_DIR")

    # Deployer (DESIGN "Deployment lifecycle"): how long a workload may take to deploy before the solution is
    # rolled back; how often beat runs the grid poller (one listing of the grid for every waiting deployment),
    # refreshes the node index and runs the reconciler; how long a pool must be able to carry a new deployment.
    workload_deadline: Annotated[int, Field(ge=5, le=86400)] = Field(600, alias="WORKLOAD_DEADLINE")
    deploy_poll_interval: Annotated[float, Field(ge=0.1, le=60)] = Field(2.0, alias="DEPLOY_POLL_INTERVAL")
    node_index_refresh: Annotated[float, Field(ge=5, le=3600)] = Field(60.0, alias="NODE_INDEX_REFRESH")
    reconcile_interval: Annotated[float, Field(ge=5, le=3600)] = Field(60.0, alias="RECONCILE_INTERVAL")
    min_pool_runtime: Annotated[int, Field(ge=60, le=365 * 86400)] = Field(3600, alias="MIN_POOL_RUNTIME")
    # Wizards: an unfinished session is deleted this long after its last answer (beat checks every interval).
    chatflow_session_ttl: Annotated[int, Field(ge=60, le=30 * 86400)] = Field(86400, alias="CHATFLOW_SESSION_TTL")
    chatflow_expiry_interval: Annotated[float, Field(ge=5, le=86400)] = Field(300.0, alias="CHATFLOW_EXPIRY_INTERVAL")
    # Abuse limits (services/common/ratelimit.py), per verified user: unfinished wizards open at once; wizard moves
    # (start, answer, back, restart) and questions a wizard sends to the pools/deployer services, per window.
    chatflow_open_sessions: Annotated[int, Field(ge=1, le=10000)] = Field(20, alias="CHATFLOW_OPEN_SESSIONS")
    chatflow_answer_rate_limit: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        60, alias="CHATFLOW_ANSWER_RATE_LIMIT"
    )
    chatflow_query_rate_limit: Annotated[int, Field(ge=1, le=1_000_000)] = Field(120, alias="CHATFLOW_QUERY_RATE_LIMIT")
    chatflow_rate_window: Annotated[int, Field(ge=1, le=86400)] = Field(60, alias="CHATFLOW_RATE_WINDOW")
    terms_version: Annotated[str, Field(min_length=1, max_length=32)] = Field("1", alias="TERMS_VERSION")

    backup_server1: SshTarget = Field("", alias="BACKUP_SERVER1")
    backup_server2: SshTarget = Field("", alias="BACKUP_SERVER2")
    backup_ssh_key_file: Path | None = Field(None, alias="BACKUP_SSH_KEY_FILE")
    backup_known_hosts_file: Path | None = Field(None, alias="BACKUP_KNOWN_HOSTS_FILE")
    # The restic REST port of each backup server (its `setup.sh --listen`); `init` answers host:port (LOGIN §9.1).
    backup_rest_port1: Port = Field(8443, alias="BACKUP_REST_PORT1")
    backup_rest_port2: Port = Field(8443, alias="BACKUP_REST_PORT2")
    # `init` rate limits (LOGIN §9.3): per 3Bot name and per client address, per window; the worker's retry period
    # for accounts one server missed.
    backup_rate_limit_name: Annotated[int, Field(ge=1, le=10000)] = Field(10, alias="BACKUP_RATE_LIMIT_NAME")
    backup_rate_limit_address: Annotated[int, Field(ge=1, le=10000)] = Field(60, alias="BACKUP_RATE_LIMIT_ADDRESS")
    backup_rate_window: Annotated[int, Field(ge=1, le=86400)] = Field(60, alias="BACKUP_RATE_WINDOW")
    backup_retry_interval: Annotated[float, Field(ge=1, le=3600)] = Field(60.0, alias="BACKUP_RETRY_INTERVAL")
    backup_ssh_timeout: Annotated[float, Field(gt=0, le=120)] = Field(10.0, alias="BACKUP_SSH_TIMEOUT")

    # Outbound HTTP: every call has a timeout (connect, total) — GRID_API §2.4, LOGIN_PROTOCOL §7.3.
    http_connect_timeout: Annotated[float, Field(gt=0, le=60)] = Field(5.0, alias="HTTP_CONNECT_TIMEOUT")
    http_read_timeout: Annotated[float, Field(gt=0, le=300)] = Field(30.0, alias="HTTP_READ_TIMEOUT")

    # Metrics (services/common/metrics.py): off leaves every instrument out (the benchmarks' "without"); the internal
    # port the process group serves them on is chosen per role by deploy/role.py (none: not served).
    metrics: Flag = Field(True, alias="METRICS")
    metrics_port: Port | None = Field(None, alias="METRICS_PORT")
    bind_host: str = Field("127.0.0.1", alias="BIND_HOST")

    # Celery: hard/soft limits for every task unless the task asks for its own.
    task_time_limit: Annotated[int, Field(ge=5, le=3600)] = Field(300, alias="TASK_TIME_LIMIT")
    # Must stay above the longest countdown/eta any task uses (Redis transport redelivers after it).
    broker_visibility_timeout: Annotated[int, Field(ge=60, le=86400)] = Field(3600, alias="BROKER_VISIBILITY_TIMEOUT")
    query_timeout: Annotated[float, Field(gt=0, le=60)] = Field(5.0, alias="QUERY_TIMEOUT")

    # Every web service refuses a request body larger than this (413), chunked or not; never above what Caddy lets
    # through (proxy/Caddyfile), so the service's own answer is the one the client gets.
    max_request_body: Annotated[int, Field(ge=1024, le=BODY_LIMIT_CEILING)] = Field(
        256 * 1024, alias="MAX_REQUEST_BODY"
    )

    db_pool_min: Annotated[int, Field(ge=1, le=100)] = Field(1, alias="DB_POOL_MIN")
    db_pool_max: Annotated[int, Field(ge=1, le=200)] = Field(10, alias="DB_POOL_MAX")

    @property
    def is_dev(self) -> bool:
        return self.app_env != "production"

    @property
    def public_origin(self) -> str:
        """The origin browsers send for our own pages: http for a localhost domain, https otherwise."""
        host = self.marketplace_domain.split(":")[0]
        scheme = "http" if host in ("localhost", "127.0.0.1") else "https"
        return f"{scheme}://{self.marketplace_domain}"


class SettingsError(Exception):
    """Raised by :func:`load_settings` with one line naming the first bad variable."""


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    name = str(err["loc"][0]) if err["loc"] else "environment"
    if err["type"] == "missing":
        return f"{name} is not set"
    # Never echo the offending value: it may be a secret (a URL with a password).
    return f"{name} is invalid: {err['msg']}"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Parse settings from ``environ`` (default: the process environment).

    Empty strings count as "not set" so a blank line in an env file falls back to the default.

    Raises:
        SettingsError: a variable is missing or malformed; the message names it.
    """
    source = os.environ if environ is None else environ
    values = {key: value for key, value in source.items() if value != ""}
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        raise SettingsError(_first_error(exc)) from None


def load_or_exit(environ: Mapping[str, str] | None = None) -> Settings:
    """:func:`load_settings`, but a bad environment ends the process with one line and exit code 2."""
    try:
        return load_settings(environ)
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
