"""``make mutate``: mutation testing (mutmut) of the code where a one-line bug is a security or money bug.

mutmut copies ``services/`` and ``tests/`` to ``mutants/`` and runs the tests there with one mutant switched on at a
time, so the working tree is never modified (this script never calls ``mutmut apply``). It maps each function to
the tests that call it, so every module below runs against its own fast tests (the ``[tool.mutmut]`` selection in
pyproject.toml: unit tests and store/Redis tests on the real PostgreSQL and Redis of ``TEST_DATABASE_URL`` /
``TEST_REDIS_URL``, no service stacks).

``TARGETS`` names, per module, the functions under test (a store's owner-scoped queries, the same-origin check of
web.py). A surviving mutant fails the run unless ``EQUIVALENT`` explains why no test can tell it from the code: the
key is the function and the mutated line, so a reason stays attached when mutmut renumbers its mutants.

Usage: ``python -m deploy.mutate [module ...]`` (short names such as ``capacity`` or ``pools.store``; none = all).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"


@dataclass(frozen=True)
class Target:
    module: str  # dotted, e.g. services.pools.store
    functions: tuple[str, ...] = ()  # the functions under test; empty = every function of the module
    globs: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = self.functions or ("*",)
        object.__setattr__(self, "globs", tuple(f"{self.module}.x_{f}__mutmut_*" for f in names))

    @property
    def short(self) -> str:
        return self.module.removeprefix("services.").removeprefix("common.").removeprefix("deployer.grid.")

    @property
    def path(self) -> Path:
        return Path(*self.module.split(".")).with_suffix(".py")


TARGETS = (
    Target("services.common.assertion"),
    # web.py: the same-origin (CSRF) check and the two helpers every endpoint uses to learn who is calling.
    Target(
        "services.common.web", ("_origin_of", "_check_same_origin", "csrf_exempt", "user", "require_accepted_terms")
    ),
    Target("services.auth.service"),
    Target("services.auth.sessions"),
    Target("services.common.capacity"),
    Target("services.deployer.grid.challenge"),
    Target("services.deployer.grid.render"),
    # The owner-scoped queries of every store (another user's row must read as none).
    Target("services.auth.store", ("upsert_user", "accepted_terms", "accept_terms")),
    Target("services.chatflow.store", ("create", "get", "open_sessions", "delete")),
    Target(
        "services.deployer.store",
        ("insert_solution", "solution", "solutions_of", "live_name_taken", "count_by_type", "take_secret_outputs"),
    ),
    Target("services.pools.store", ("insert_pool", "lock_pool_by_key", "lock_pool", "get_pool", "list_pools")),
)

# (function, the mutated line as `mutmut show` prints it, stripped) -> why no test can kill it.
EQUIVALENT: dict[tuple[str, str], str] = {}

STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 36: "timeout", 24: "timeout",
          -24: "timeout", 152: "timeout", 255: "timeout", 37: "type check", None: "not checked"}  # fmt: skip


def _exit_codes(target: Target) -> dict[str, int | None]:
    meta = MUTANTS / f"{target.path}.meta"
    codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
    return {name: code for name, code in codes.items() if any(fnmatch(name, g) for g in target.globs)}


def _mutated_line(mutant: str) -> str:
    shown = subprocess.run([sys.executable, "-m", "mutmut", "show", mutant], cwd=ROOT, capture_output=True,
                           text=True, check=False).stdout  # fmt: skip
    added = [line[1:].strip() for line in shown.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return " / ".join(added) or shown.strip()


def _function_of(mutant: str) -> str:
    return mutant.rsplit("__mutmut_", 1)[0].replace(".x_", ".", 1)


def report(targets: tuple[Target, ...]) -> int:
    """Print the score of each module and every survivor; 1 when a survivor is not a known equivalent."""
    unexplained = 0
    print(f"\n{'module':<28}{'killed':>8}{'total':>7}{'survived':>10}{'equivalent':>12}{'other':>7}")
    details: list[str] = []
    for target in targets:
        codes = _exit_codes(target)
        statuses = Counter(STATUS.get(code, "suspicious") for code in codes.values())
        equivalent = 0
        for name, code in sorted(codes.items()):
            status = STATUS.get(code, "suspicious")
            if status in ("killed", "timeout"):
                continue
            line = _mutated_line(name)
            reason = EQUIVALENT.get((_function_of(name), line))
            if reason and status == "survived":
                equivalent += 1
                details.append(f"  equivalent {name}: {line}\n      {reason}")
            else:
                unexplained += 1
                details.append(f"  {status.upper()} {name}: {line}")
        killed = statuses["killed"] + statuses["timeout"]
        other = len(codes) - killed - statuses["survived"]
        print(f"{target.short:<28}{killed:>8}{len(codes):>7}{statuses['survived']:>10}{equivalent:>12}{other:>7}")
    print("\n".join(details))
    if unexplained:
        print(f"\n{unexplained} mutant(s) not killed and not explained: add a test (or an EQUIVALENT reason).")
    return 1 if unexplained else 0


def main(argv: list[str]) -> int:
    chosen = tuple(t for t in TARGETS if not argv or t.short in argv or t.module in argv)
    if not chosen:
        print(f"unknown module; choose from: {' '.join(t.short for t in TARGETS)}", file=sys.stderr)
        return 2
    # A fresh copy each run: mutmut does not refresh files it copied before, and other edits may have happened.
    shutil.rmtree(MUTANTS, ignore_errors=True)
    started = time.monotonic()
    globs = [g for t in chosen for g in t.globs]
    children = os.environ.get("MUTATE_JOBS", "2")
    MUTANTS.mkdir()
    log = MUTANTS / "mutmut-run.log"  # mutmut's progress output (a spinner per mutant) goes here, not to the terminal
    print(f"mutmut run: {len(chosen)} module(s), {children} worker(s); progress in {log.relative_to(ROOT)}", flush=True)
    with log.open("w") as out:
        run = subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", children, *globs], cwd=ROOT,
                             stdout=out, stderr=subprocess.STDOUT, check=False)  # fmt: skip
    if run.returncode != 0:
        print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
        print(f"mutmut run failed (exit {run.returncode})", file=sys.stderr)
        return 1
    status = report(chosen)
    print(f"\nmake mutate: {time.monotonic() - started:.0f} s")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
