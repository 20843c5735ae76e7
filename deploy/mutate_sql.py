"""The second half of ``make mutate``: each owner condition of the stores' SQL, removed one at a time.

mutmut mutates Python, and the owner scoping of a store lives in SQL text it leaves alone (triple-quoted strings and
f-strings are not mutated, and its "XX" or case changes of a one-line query never drop a condition). Yet "the owner
condition went away" is the one-line bug that hands user A's pool, wizard or WireGuard key to user B (or one 3Bot's
backup account to another). So each condition below is deleted in a copy of the code (``mutants/sql/``, never the
working tree) and the store's own tests run against it: they must fail.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class OwnerClause:
    module: str  # dotted store module
    function: str
    condition: str  # as written in the function's SQL
    without: str = ""  # what is left when it is gone

    @property
    def path(self) -> Path:
        return Path(*self.module.split(".")).with_suffix(".py")

    @property
    def tests(self) -> str:
        return f"tests/integration/{self.module.split('.')[1]}/test_store.py"


OWNER_CLAUSES = (
    OwnerClause("services.auth.store", "accepted_terms", "user_id = %(user_id)s AND "),
    OwnerClause("services.chatflow.store", "get", " AND owner = %(owner)s"),
    OwnerClause("services.chatflow.store", "open_sessions", "owner = %(owner)s AND "),
    OwnerClause("services.chatflow.store", "delete", " AND owner = %(owner)s"),
    OwnerClause("services.deployer.store", "solution", " AND (%(owner)s::text IS NULL OR owner = %(owner)s)"),
    OwnerClause("services.deployer.store", "solutions_of", "owner = %(owner)s AND "),
    OwnerClause("services.deployer.store", "live_name_taken", "owner = %(owner)s AND "),
    OwnerClause("services.deployer.store", "count_by_type", "owner = %(owner)s AND "),
    OwnerClause("services.deployer.store", "take_secret_outputs", " AND owner = %(owner)s"),
    OwnerClause("services.pools.store", "lock_pool_by_key", "owner = %(owner)s AND "),
    OwnerClause("services.pools.store", "lock_pool", "owner = %(owner)s AND "),
    OwnerClause("services.pools.store", "get_pool", "owner = %(owner)s AND "),
    OwnerClause("services.pools.store", "list_pools", "owner = %(owner)s AND "),
    # Backup accounts: keyed by 3Bot name and account name. Positional parameters, so the condition is replaced by
    # one that still takes its parameter and is always true.
    OwnerClause("services.backup.store", "get", "threebot_name = %s", "%s::text IS NOT NULL"),
    OwnerClause("services.backup.store", "owner_of", "username = %s", "%s::text IS NOT NULL"),
    OwnerClause("services.backup.store", "mark_done", "threebot_name = %s AND ", "%s::text IS NOT NULL AND "),
    OwnerClause("services.backup.store", "mark_done", " AND updated_at = %s", " AND %s::timestamptz IS NOT NULL"),
)


def _without(source: str, clause: OwnerClause) -> str:
    """``source`` with the clause's condition removed from its function (exactly one occurrence there)."""
    start = source.index(f"\ndef {clause.function}(")
    end = source.find("\ndef ", start + 1)
    end = len(source) if end == -1 else end
    body = source[start:end]
    if body.count(clause.condition) != 1:
        raise ValueError(f"{clause.module}.{clause.function}: the owner condition {clause.condition!r} has moved")
    return source[:start] + body.replace(clause.condition, clause.without) + source[end:]


def run(root: Path, modules: set[str]) -> list[tuple[OwnerClause, str]]:
    """Remove each owner condition of ``modules`` in a copy under ``root/mutants/sql``; (clause, status) each."""
    work = root / "mutants" / "sql"
    shutil.rmtree(work, ignore_errors=True)
    for part in ("services", "tests"):
        shutil.copytree(root / part, work / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(root / "pyproject.toml", work / "pyproject.toml")
    results: list[tuple[OwnerClause, str]] = []
    passing: dict[str, bool] = {}
    for clause in (c for c in OWNER_CLAUSES if c.module in modules):
        if clause.tests not in passing:  # a kill only counts if the tests pass on the code as it is
            passing[clause.tests] = _pytest(work, clause.tests) == 0
        original = (root / clause.path).read_text()
        target = work / clause.path
        target.write_text(_without(original, clause))
        try:
            code = _pytest(work, clause.tests)
        finally:
            target.write_text(original)
        if not passing[clause.tests]:
            status = f"error ({clause.tests} fails without the change)"
        else:
            status = {0: "survived", 1: "killed"}.get(code, f"error (pytest exit {code})")
        results.append((clause, status))
    return results


def _pytest(work: Path, tests: str) -> int:
    # `python -m pytest` from the copy: its services/ comes first on sys.path.
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", tests], cwd=work,
                          capture_output=True, check=False, timeout=600).returncode  # fmt: skip
