"""One entry point for every process: ``python -m deploy.role <role>``.

The Procfile (``make run``) and docker-compose (``make up``) start the same roles, so local and containerised
stacks run identical commands. The role only chooses the command line; each process parses its settings itself.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from deploy import frontend_build
from services.common.settings import parse_flag

ROOT = Path(__file__).resolve().parent.parent
WEB = {
    "auth": "AUTH_PORT",
    "chatflow": "CHATFLOW_PORT",
    "deployer": "DEPLOYER_PORT",
    "pools": "POOLS_PORT",
    "backup": "BACKUP_PORT",
}
WORKERS = ("chatflow", "deployer", "pools", "backup")
LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
LETS_ENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"


class RoleError(Exception):
    """Unknown role or a malformed process-layout variable."""


def _get(env: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = env.get(name) or default
    if value is None:
        raise RoleError(f"{name} is not set")
    return value


def _port(env: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = _get(env, name, default)
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise RoleError(f"{name} is invalid: must be a TCP port number")
    return value


def _count(env: Mapping[str, str], name: str, default: str) -> str:
    value = _get(env, name, default)
    if not value.isdigit() or not 0 < int(value) <= 64:
        raise RoleError(f"{name} is invalid: must be a number from 1 to 64")
    return value


def _production(env: Mapping[str, str]) -> bool:
    return (env.get("APP_ENV") or "production") == "production"  # the settings' own default


def _acme(env: Mapping[str, str], test_cert: bool) -> tuple[str, str]:
    """The ACME directory and the ``acme_ca_root`` option line (a private CA's root: Caddy trusts it for the
    directory's own TLS), each checked here so a typo fails at start, not at the first renewal."""
    acme_ca = env.get("ACME_CA") or (LETS_ENCRYPT_STAGING if test_cert else LETS_ENCRYPT)
    url = urlsplit(acme_ca)
    if url.scheme != "https" or not url.hostname or any(c.isspace() for c in acme_ca):
        raise RoleError("ACME_CA is invalid: must be an https:// URL of an ACME directory")
    root = env.get("ACME_CA_ROOT", "")
    if not root:
        return acme_ca, ""
    if any(c.isspace() for c in root) or not os.access(root, os.R_OK) or not Path(root).is_file():
        raise RoleError("ACME_CA_ROOT is invalid: must be a readable PEM file without spaces in its path")
    return acme_ca, f"acme_ca_root {root}"


def proxy_env(env: Mapping[str, str]) -> dict[str, str]:
    """The variables the Caddyfile reads, derived from the product settings.

    ``MARKETPLACE_DOMAIN`` ``localhost[:port]`` (dev) serves plain HTTP on ``PROXY_PORT``; any other domain gets
    automatic HTTPS on ``PROXY_HTTP_PORT``/``PROXY_HTTPS_PORT`` (80/443; other ports only behind a port forward,
    or for the Pebble test). ``ACME_CA`` wins; else ``TEST_CERT=true`` selects Let's Encrypt staging.
    """
    domain = _get(env, "MARKETPLACE_DOMAIN")
    host = domain.split(":")[0]
    local = host in ("localhost", "127.0.0.1")
    site = f"http://:{_port(env, 'PROXY_PORT', '8080')}" if local else domain
    try:
        test_cert = parse_flag(env.get("TEST_CERT") or "false")  # the settings' own reading: they never disagree
    except ValueError as exc:
        raise RoleError(f"TEST_CERT is invalid: {exc}") from None
    acme_ca, acme_ca_root = _acme(env, test_cert)
    email = env.get("ACME_EMAIL", "")
    if any(c.isspace() for c in email):
        raise RoleError("ACME_EMAIL is invalid: must not contain spaces")
    bind = env.get("BIND_HOST", "127.0.0.1")
    frontend = env.get("FRONTEND_DIR") or str(ROOT / "frontend")

    def upstream(service: str) -> str:
        return env.get(f"{service.upper()}_UPSTREAM") or f"{bind}:{_port(env, WEB[service])}"

    derived = {
        "CADDY_SITE": site,
        "CADDY_ACME_CA": acme_ca,
        "CADDY_ACME_CA_ROOT_OPTION": acme_ca_root,
        "CADDY_HTTP_PORT": _port(env, "PROXY_HTTP_PORT", "80"),
        "CADDY_HTTPS_PORT": _port(env, "PROXY_HTTPS_PORT", "443"),
        # Injected as a whole line: Caddy substitutes {$VAR} before parsing, and an empty `email` is an error.
        "CADDY_EMAIL_OPTION": f"email {email}" if email else "",
        "FRONTEND_DIR": frontend,
        "CADDY_ASSET_VERSION": frontend_build.asset_version(Path(frontend)),
        "CADDY_DATA_DIR": env.get("CADDY_DATA_DIR") or str(Path(env.get("LOCAL_DIR", ".local")) / "caddy"),
    }
    derived.update({f"{name.upper()}_UPSTREAM": upstream(name) for name in WEB})
    connect = env.get("CONNECT_EMULATOR_UPSTREAM", "")
    if connect and _production(env):
        raise RoleError(
            "CONNECT_EMULATOR_UPSTREAM is set while APP_ENV=production: the login emulator's /_emulator/ endpoints"
            " approve any login; leave it empty (the emulators run only in compose's dev profile)"
        )
    derived["CADDY_EXTRA_SITE"] = str(ROOT / "proxy" / "sites" / ("login-emulator.caddy" if connect else "none.caddy"))
    if connect:
        derived["CONNECT_EMULATOR_UPSTREAM"] = connect
        derived["LOGIN_EMULATOR_PUBLIC_PORT"] = _port(env, "LOGIN_EMULATOR_PUBLIC_PORT", "8202")
    return derived


def metrics_port_variable(role: str) -> str:
    """The variable naming ``role``'s internal metrics port: ``DEPLOYER_WORKER_METRICS_PORT``…"""
    return f"{role.upper().replace('-', '_')}_METRICS_PORT"


def metrics_env(role: str, env: Mapping[str, str], pid: int) -> dict[str, str]:
    """``METRICS_PORT`` (the role's own variable, else a ``METRICS_PORT`` already set, as in compose where each
    process has its container; none: not served) and the process group's ``PROMETHEUS_MULTIPROC_DIR``."""
    extra = {"PROMETHEUS_MULTIPROC_DIR": str(Path(env.get("LOCAL_DIR", ".local")) / "metrics" / f"{role}.{pid}")}
    variable = metrics_port_variable(role)
    if env.get(variable):
        extra["METRICS_PORT"] = _port(env, variable)
    elif env.get("METRICS_PORT"):
        extra["METRICS_PORT"] = _port(env, "METRICS_PORT")
    return extra


def prepare_metrics_dir(path: Path) -> None:
    """An empty directory for this process group's samples; the directories of the role's dead groups go (their
    pid is in the name), so restarts do not pile them up."""
    role = path.name.rsplit(".", 1)[0]
    if path.parent.is_dir():
        for old in path.parent.glob(f"{role}.*"):
            pid = old.name.rsplit(".", 1)[1]
            if old == path or not pid.isdigit() or not Path(f"/proc/{pid}").exists():
                shutil.rmtree(old, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)


def command(role: str, env: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """The argv and extra environment of ``role``.

    Raises:
        RoleError: unknown role or a malformed variable.
    """
    bind = env.get("BIND_HOST", "127.0.0.1")
    local_dir = Path(env.get("LOCAL_DIR", ".local"))
    level = env.get("LOG_LEVEL", "INFO")
    py = sys.executable
    if role.endswith("-web") and role[:-4] in WEB:
        service = role[:-4]
        return [
            py, "-m", "gunicorn",
            "--bind", f"{bind}:{_port(env, WEB[service])}",
            "--workers", _count(env, "WEB_CONCURRENCY", "2"),
            # gthread (threads > 1): a thread per request, idle keep-alive connections parked in the poller.
            "--threads", _count(env, "WEB_THREADS", "4"),
            "--timeout", "60",
            "--graceful-timeout", "10",
            # Longer than Caddy's idle upstream keep-alive (2 min): gunicorn must never close a connection Caddy
            # is about to reuse, or a POST sent at that moment fails with a 502 (Caddy retries only GETs).
            "--keep-alive", "150",
            "--name", f"marketplace-{role}",
            # gunicorn 27's control socket defaults to one path per user: five services would fight over it.
            "--no-control-socket",
            # The master serves the workers' metrics on the role's internal port (deploy/gunicorn_metrics.py).
            "--config", "python:deploy.gunicorn_metrics",
            f"services.{service}.app:create_app()",
        ], metrics_env(role, env, os.getpid())  # fmt: skip
    if role.endswith("-worker") and role[:-7] in WORKERS:
        service = role[:-7]
        return [
            py, "-m", "celery", "-A", f"services.{service}.worker", "worker",
            "-Q", service, "-n", f"{service}@%h",
            "--concurrency", _count(env, "WORKER_CONCURRENCY", "2"),
            "--without-gossip", "--without-mingle", "--loglevel", level,
        ], metrics_env(role, env, os.getpid())  # fmt: skip
    if role == "beat":
        local_dir.mkdir(parents=True, exist_ok=True)
        return [
            py, "-m", "celery", "-A", "services.common.beat", "beat",
            "--schedule", str(local_dir / "celerybeat-schedule"), "--loglevel", level,
        ], {}  # fmt: skip
    if role == "migrate":
        # Compose starts it beside PostgreSQL: it waits for the database rather than fail its first try.
        return [py, "-m", "services.common.migrations", "--wait", "120"], {}
    if role == "proxy":
        caddy = shutil.which("caddy")
        if caddy is None:
            raise RoleError("caddy is not installed (apt-get install -y caddy)")
        extra = proxy_env(env)
        # The pages name their scripts by a content-hashed path (deploy/frontend_build.py).
        served, version = frontend_build.build(Path(extra["FRONTEND_DIR"]), local_dir / "frontend")
        extra.update(FRONTEND_DIR=str(served), CADDY_ASSET_VERSION=version)
        # Caddy keeps certificates and ACME accounts under XDG_DATA_HOME: make it persistent and ours.
        extra["XDG_DATA_HOME"] = extra["CADDY_DATA_DIR"]
        return [caddy, "run", "--config", str(ROOT / "proxy" / "Caddyfile"), "--adapter", "caddyfile"], extra
    if role.endswith("-emulator") and _production(env):
        raise RoleError(f"{role} is for development only and APP_ENV=production (set APP_ENV=dev to run it)")
    if role == "grid-emulator":
        return [
            py, "-m", "emulators.grid", "--host", bind, "--port", _port(env, "GRID_EMULATOR_PORT"),
            "--state", str(local_dir / "grid" / "state.sqlite3"),
        ], {}  # fmt: skip
    if role == "connect-emulator":
        return [
            py, "-m", "emulators.connect", "--host", bind, "--port", _port(env, "CONNECT_EMULATOR_PORT"),
            "--state-dir", str(local_dir / "connect"),
        ], {}  # fmt: skip
    raise RoleError(f"unknown role {role!r}")


ROLES = (
    *(f"{s}-web" for s in WEB),
    *(f"{s}-worker" for s in WORKERS),
    "beat",
    "migrate",
    "proxy",
    "grid-emulator",
    "connect-emulator",
)


def main(argv: list[str]) -> None:
    if len(argv) != 1 or argv[0] not in ROLES:
        raise SystemExit(f"usage: python -m deploy.role <role>; roles: {', '.join(ROLES)}")
    try:
        args, extra = command(argv[0], os.environ)
    except RoleError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if argv[0] not in ("proxy", "grid-emulator", "connect-emulator"):
        # Check the product settings here, before gunicorn/celery start: a bad variable is then one line and
        # exit code 2, not a worker restart loop (each process parses them again itself).
        from services.common.production import check_start_or_exit
        from services.common.settings import load_or_exit

        settings = load_or_exit()
        check_start_or_exit(settings, argv[0])  # production: the role's keys and seeds (services/common/production.py)
        if argv[0] in ("backup-web", "backup-worker"):
            # The backup processes also need their two servers, key and known-hosts file (LOGIN_PROTOCOL §9).
            from services.backup.config import backup_config_or_exit

            backup_config_or_exit(settings)
    if "PROMETHEUS_MULTIPROC_DIR" in extra:
        # Emptied before the program starts: samples of a previous run must not count again (exec keeps our pid).
        prepare_metrics_dir(Path(extra["PROMETHEUS_MULTIPROC_DIR"]))
    os.environ.update(extra)
    os.execv(args[0], args)  # noqa: S606 — replace this process: signals go straight to the real program


if __name__ == "__main__":
    main(sys.argv[1:])
