"""``make run``: the whole stack on this machine, supervised by honcho, stopped by Ctrl-C.

1. Load ``dev.env`` (variables already in the environment win).
2. Check the Debian packages the stack needs; install them when root, else print the one apt-get line.
3. Use PostgreSQL and Redis at DATABASE_URL / REDIS_URL; when they cannot be used, start private instances
   under ``.local/`` on ports 55432 / 56379 (``deploy.local_servers``, shared with ``make test``; stopped again
   on exit).
4. Create the dev identity seed if missing, migrate every schema.
5. Backup servers: with BACKUP_SERVER1 empty and root, two real ones on loopback (``deploy.local_backup``: the
   project's setup script, sshd + rclone's restic REST server, stopped on exit); without root the backup web
   service and worker are left out (they cannot start without servers) and the banner says so.
6. Print the URL and the test users, then run every process of the ``Procfile`` under honcho.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import uuid
from contextlib import suppress
from pathlib import Path

from deploy import local_backup
from deploy import role as role_module
from deploy.local_servers import Plan, ensure_database, hide_password, servers

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"caddy": "caddy", "redis-server": "redis-server", "pg_ctlcluster": "postgresql"}
TEST_USERS = ("alice.3bot", "bob.3bot", "carol.3bot")
PRIVATE_PG_PORT = 55432
PRIVATE_REDIS_PORT = 56379
# Root-owned parents (sshd's chroot rules); LOCAL_BACKUP_DIR moves it (the tests, a second stack).
BACKUP_STATE = "/var/lib/marketplace-local-backup"
BACKUP_PROCESSES = ("backup", "backup-worker")


def load_env_file(path: Path, environ: dict[str, str]) -> None:
    """Add ``KEY=value`` lines of ``path`` to ``environ`` unless already set there."""
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise SystemExit(f"{path}:{number}: expected KEY=value")
        environ.setdefault(key.strip(), value.strip())


def ensure_packages() -> None:
    missing = sorted({pkg for binary, pkg in PACKAGES.items() if shutil.which(binary) is None})
    if not missing:
        return
    line = f"apt-get install -y {' '.join(missing)}"
    if os.geteuid() != 0:
        raise SystemExit(f"missing Debian packages; run as root:\n    {line}")
    print(f"installing {' '.join(missing)} …", flush=True)
    subprocess.run(["apt-get", "update", "-q"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", *missing],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )


def banner(env: dict[str, str]) -> str:
    url = f"http://localhost:{env.get('PROXY_PORT', '8080')}"
    users = "\n".join(f"      {name}" for name in TEST_USERS)
    return (
        f"\n  Marketplace is starting at  {url}\n"
        f"  Sign in through the bundled 3Bot Connect emulator as one of:\n{users}\n"
        f"  Grid explorer emulator: {env['EXPLORER_URL']}\n"
        f"  Gateway DNS: {env.get('DNS_RESOLVER', '(off)')}   CT log: {env.get('CT_LOG_URL', 'https://crt.sh')}\n"
        f"  PostgreSQL: {hide_password(env['DATABASE_URL'])}   Redis: {env['REDIS_URL']}\n"
        f"{metrics_lines(env)}"
        f"  Ctrl-C stops every process.\n"
    )


def metrics_lines(env: dict[str, str]) -> str:
    """Where each process serves its metrics (internal ports, not through Caddy; README "Operating")."""
    bind = env.get("BIND_HOST", "127.0.0.1")
    found = [(role, env[role_module.metrics_port_variable(role)]) for role in role_module.ROLES
             if env.get(role_module.metrics_port_variable(role))]  # fmt: skip
    if not found or env.get("METRICS", "on").lower() in ("0", "false", "no", "off"):
        return "  Metrics: off\n"
    urls = "\n".join(f"      {role:<16} http://{bind}:{port}/metrics" for role, port in found)
    return f"  Metrics (internal, not through Caddy):\n{urls}\n"


def start_backup_servers(env: dict[str, str], local: Path) -> tuple[list[subprocess.Popen[bytes]], str]:
    """Two local backup servers when none are configured (root only); returns their processes and a status line.

    Without root (or without sshd/rclone) none are started and BACKUP_SERVER1 stays empty: the caller leaves the
    backup processes out.
    """
    if env.get("BACKUP_SERVER1"):
        return [], f"Backup servers: {env['BACKUP_SERVER1']}, {env.get('BACKUP_SERVER2', '')}"
    missing = local_backup.missing_binaries()
    if os.geteuid() != 0 or missing:
        why = f"missing {', '.join(missing)}" if missing else "not root"
        return [], f"Backup servers: none ({why}); backup-web and backup-worker are not started (README)"
    state = Path(env.get("LOCAL_BACKUP_DIR") or BACKUP_STATE)
    state.mkdir(mode=0o755, parents=True, exist_ok=True)
    pair, backup_env = local_backup.prepare(state, local / "backup_ssh_key")
    env.update(backup_env)
    procs = []
    logs = local / "backup-servers.log"
    with logs.open("ab") as log:
        for server in pair:
            for command in (server.sshd_command(), server.rest_command()):
                procs.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    return procs, f"Backup servers: {pair[0].target}, {pair[1].target} (REST over TLS, log {logs})"


def procfile_names(path: Path) -> list[str]:
    return [line.split(":", 1)[0].strip() for line in path.read_text().splitlines() if ":" in line and
            not line.lstrip().startswith("#")]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-file", default=str(ROOT / "dev.env"))
    parser.add_argument("--procfile", default=str(ROOT / "Procfile"))
    args = parser.parse_args(argv)

    env = dict(os.environ)
    load_env_file(Path(args.env_file), env)
    os.chdir(ROOT)
    ensure_packages()
    local = Path(env["LOCAL_DIR"])
    local.mkdir(parents=True, exist_ok=True)
    # Every process started below inherits this id, so a test can prove none is left after Ctrl-C.
    env.setdefault("MARKETPLACE_STACK_ID", uuid.uuid4().hex)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"

    plan = Plan(local, PRIVATE_PG_PORT, PRIVATE_REDIS_PORT)
    with servers(env, "DATABASE_URL", "REDIS_URL", plan):
        os.environ.update(env)
        from services.common.identity import load_identity
        from services.common.migrations import migrate
        from services.common.settings import load_or_exit

        settings = load_or_exit(env)
        ensure_database(settings.database_url)
        load_identity(settings.identity_seed_file, create=settings.is_dev)
        migrate(settings.database_url)
        backup_procs, backup_line = start_backup_servers(env, local)
        names = procfile_names(Path(args.procfile))
        if not env.get("BACKUP_SERVER1"):
            names = [name for name in names if name not in BACKUP_PROCESSES]
        print(banner(env) + f"  {backup_line}\n", flush=True)
        honcho = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start", "-f", args.procfile, "-d", str(ROOT), "--no-colour", *names],
            env=env,
        )

        # Ctrl-C in a terminal reaches every process of the group; a `kill` reaches only us. Either way honcho is
        # told to stop, and it stops every process of the Procfile before we stop the private servers.
        def forward(signum: int, _frame: object) -> None:
            if honcho.poll() is None:
                honcho.send_signal(signal.SIGTERM if signum == signal.SIGTERM else signal.SIGINT)

        signal.signal(signal.SIGINT, forward)
        signal.signal(signal.SIGTERM, forward)
        try:
            return honcho.wait()
        finally:
            for proc in backup_procs:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
            for proc in backup_procs:
                proc.wait(timeout=20)


if __name__ == "__main__":
    with suppress(KeyboardInterrupt):
        sys.exit(main())
