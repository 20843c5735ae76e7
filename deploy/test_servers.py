"""``python -m deploy.test_servers [--dir DIR] -- COMMAND…``: run COMMAND (``make test``: pytest) with a
PostgreSQL and a Redis it can use.

TEST_DATABASE_URL / TEST_REDIS_URL (defaults below: the machine's servers, database ``test``, Redis db 1) are used
untouched when a server there accepts us; a missing database is created. When one cannot be used — nothing
listens, or a fresh install asks for a password — a private instance is started under ``.local/test-servers/``
on a free port by ``deploy.local_servers`` (the mechanism ``make run`` uses), the variable is pointed at it for
COMMAND, and it is stopped and its data removed when COMMAND ends, fails or is interrupted. COMMAND's exit status
is ours.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from deploy.local_servers import Plan, free_port, servers, stop_postgres, stop_redis

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEST_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/1"
# Durability buys nothing in a cluster that is deleted when the run ends; these make the suite's commits cheap.
THROWAWAY_POSTGRES = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.test_servers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--dir", type=Path, default=ROOT / ".local" / "test-servers",
                        help="where private instances live while COMMAND runs")  # fmt: skip
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS…]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no COMMAND given after --")

    env = dict(os.environ)
    env.setdefault("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    env.setdefault("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)
    directory: Path = args.dir.resolve()
    postgres_port = free_port()
    redis_port = free_port()
    while redis_port == postgres_port:
        redis_port = free_port()
    plan = Plan(directory, postgres_port, redis_port, THROWAWAY_POSTGRES)
    with _only_run_in(directory):
        _remove_leftovers(directory)
        try:
            with servers(env, "TEST_DATABASE_URL", "TEST_REDIS_URL", plan):
                return _run(command, env)
        finally:
            _remove_leftovers(directory, keep_logs=True)


@contextmanager
def _only_run_in(directory: Path) -> Iterator[None]:
    """Hold ``directory``'s lock: two runs in one checkout would share (and delete) each other's servers."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(f"another test run holds {directory}; wait for it to end") from None
        yield


def _remove_leftovers(directory: Path, keep_logs: bool = False) -> None:
    """Stop servers a killed run left behind (we hold the lock: nobody else uses them) and remove their data."""
    stop_postgres(directory / "postgres")
    stop_redis(directory / "redis")
    for name in ("postgres", "redis"):
        shutil.rmtree(directory / name, ignore_errors=True)
    if not keep_logs:
        with suppress(FileNotFoundError):
            (directory / "postgres.log").unlink()


def _run(command: list[str], env: dict[str, str]) -> int:
    """Run COMMAND to its end. A Ctrl-C in the terminal reaches it directly (same process group), so we only wait;
    a SIGTERM or SIGHUP sent to us becomes a SIGINT for it, so pytest still runs its teardown."""
    child: list[subprocess.Popen[bytes]] = []

    def forward(_signum: int, _frame: object) -> None:
        if child and child[0].poll() is None:
            child[0].send_signal(signal.SIGINT)

    # Python handlers, not SIG_IGN: an ignored SIGINT would be inherited by COMMAND and pytest could not be stopped.
    signal.signal(signal.SIGINT, lambda _signum, _frame: None)
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGHUP, forward)
    child.append(subprocess.Popen(command, env=env))
    code = child[0].wait()
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
