"""``make mutate``: mutation testing (mutmut) of the code where a one-line bug is a security or money bug.

mutmut copies ``services/`` and ``tests/`` to ``mutants/`` and runs the tests there with one mutant switched on at a
time, so the working tree is never modified (this script never calls ``mutmut apply``). It maps each function to
the tests that call it, so every module below runs against its own fast tests (the ``[tool.mutmut]`` selection in
pyproject.toml: unit tests and store/Redis tests on the real PostgreSQL and Redis of ``TEST_DATABASE_URL`` /
``TEST_REDIS_URL``, no service stacks).

``TARGETS`` names, per module, the functions under test (a store's owner-scoped queries, the same-origin check of
web.py). A surviving mutant fails the run unless ``EQUIVALENT`` (or the SQL letter-case rule) explains why no test can
tell it from the code: the key is the function and the changed line, so a reason stays attached when mutmut
renumbers its mutants. mutmut does not mutate SQL text, so the stores' owner conditions get a pass of their own
(deploy/mutate_sql.py).

Usage: ``python -m deploy.mutate [module ...]`` (short names such as ``capacity`` or ``pools.store``; none = all).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from deploy import mutate_sql

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"


@dataclass(frozen=True)
class Target:
    module: str  # dotted, e.g. services.pools.store
    functions: tuple[str, ...] = ()  # the functions (or Class.method) under test; empty = every function
    globs: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        # mutmut names a function's mutants `<module>.x_<function>__mutmut_<n>` and a method's
        # `<module>.xǁ<Class>ǁ<method>__mutmut_<n>`.
        names = [f"xǁ{f.replace('.', 'ǁ')}" if "." in f else f"x_{f}" for f in self.functions] or ["x*"]
        object.__setattr__(self, "globs", tuple(f"{self.module}.{n}__mutmut_*" for n in names))

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
    # Backup (LOGIN_PROTOCOL §9.3): the .htpasswd lines, init's checks and the opening of the sealed password,
    # one account per name (collisions) and one writer per server; remote.py only runs SFTP (needs sshd).
    Target("services.backup.htpasswd"),
    Target("services.backup.service"),
    Target("services.common.identity", ("Identity.box_decrypt",)),
    Target(
        "services.backup.accounts",
        ("check_owner", "ServerLock.__init__", "ServerLock.__enter__", "ServerLock.__exit__"),
    ),
    Target("services.backup.store", ("get", "owner_of", "record", "mark_done", "Account.done")),
)

# The store functions under test: their SQL mutants that only change letter case are equivalent (SQL_CASE).
SQL_FUNCTIONS = frozenset(f"{t.module}.{f}" for t in TARGETS if t.module.endswith(".store") for f in t.functions)
SQL_CASE = (
    "SQL keywords and unquoted identifiers are case-insensitive, and the change leaves every quoted literal as it"
    " was (a case change of a %(parameter)s name fails every test that runs the query)."
)

_ASSERTION = "services.common.assertion"
_WEB = "services.common.web"
_SERVICE = "services.auth.service.verify_attempt"
_EMPTY_HEADER = (
    "Only the early 401 for a missing header changes: verify() refuses an empty or placeholder token, and a token"
    " for any real user when the user header is empty or a placeholder, with the same 401."
)
_HEADER_CASE = "HTTP header names are case-insensitive (werkzeug's Headers.get ignores case)."
_NO_REFERER = (
    "With no Referer the origin is whatever _origin_of makes of the default: None, '' and 'XXXX' all give ''"
    " (no scheme, no host), which never equals the public origin."
)
_EMPTY_ORIGIN = (
    "The origin is compared with the configured public origin, 'scheme://domain' with both parts non-empty: a"
    " result with an empty part (or 'XXXX') can never equal it, so returning it is the same as returning ''."
)
_MISSING_KEY = (
    "A missing key must not match, and 'None', '' and 'XXXX' never match: the address contains '@', the 3Bot name"
    " ends in '.3bot' and the state is 40 characters long."
)

# (function, "old line → mutated line" as the report prints it) -> why no test can kill it.
EQUIVALENT: dict[tuple[str, str], str] = {
    (f"{_ASSERTION}._b64", 'return base64.urlsafe_b64encode(data).rstrip(b"=").decode() → return '
     'base64.urlsafe_b64encode(data).rstrip(b"XX=XX").decode()'):
        "Stripping a trailing 'X' too changes nothing: a token part never ends in 'X' (the JSON payload ends in '}',"
        " whose last base64 character is '9' or a padding-bits character, and a 64-byte signature ends in A/Q/g/w).",
    (f"{_ASSERTION}._unb64", 'return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)) → return '
     'base64.urlsafe_b64decode(text + "=" * (+len(text) % 4))'):
        "Non-strict base64 decoding ignores '=' beyond the padding needed, and a length of 2 mod 4 gets the same two"
        " either way; a length of 1 mod 4 is invalid with any padding.",
    **{(f"{_ASSERTION}.current_user", change): _EMPTY_HEADER for change in (
        'token = request.headers.get(ASSERTION_HEADER, "") → token = request.headers.get(ASSERTION_HEADER, None)',
        'token = request.headers.get(ASSERTION_HEADER, "") → token = request.headers.get(ASSERTION_HEADER, )',
        'token = request.headers.get(ASSERTION_HEADER, "") → token = request.headers.get(ASSERTION_HEADER, "XXXX")',
        'username = request.headers.get(USER_HEADER, "") → username = request.headers.get(USER_HEADER, None)',
        'username = request.headers.get(USER_HEADER, "") → username = request.headers.get(USER_HEADER, )',
        'username = request.headers.get(USER_HEADER, "") → username = request.headers.get(USER_HEADER, "XXXX")',
        "if not token or not username: → if not token and not username:",
    )},
    **{(f"{_ASSERTION}.issue", change): "Without compact separators the signed JSON has spaces: the token is longer,"
       " and its claims and signature check are the same." for change in (
        'separators=(",", ":"), → separators=None,',
        'separators=(",", ":"), / ).encode() → ).encode()',
    )},
    (f"{_WEB}._check_same_origin", 'if getattr(view, "csrf_exempt", False): → if getattr(view, "csrf_exempt", None):'):
        "None and False are both false: a view without the mark is checked either way.",
    (f"{_WEB}._check_same_origin", 'view = current_app.view_functions.get(request.endpoint or "") → view = '
     'current_app.view_functions.get(request.endpoint or "XXXX")'):
        "The endpoint is None only when no rule matched, and that case returned two lines earlier.",
    **{(f"{_WEB}._check_same_origin", f'origin = request.headers.get("Origin") or _origin_of(request.headers.get('
        f'"Referer", "")) → origin = request.headers.get({new_origin}) or _origin_of(request.headers.get('
        f'{new_referer}))'): reason for new_origin, new_referer, reason in (
        ('"origin"', '"Referer", ""', _HEADER_CASE),
        ('"ORIGIN"', '"Referer", ""', _HEADER_CASE),
        ('"Origin"', '"referer", ""', _HEADER_CASE),
        ('"Origin"', '"REFERER", ""', _HEADER_CASE),
        ('"Origin"', '"Referer", None', _NO_REFERER),
        ('"Origin"', '"Referer", ', _NO_REFERER),
        ('"Origin"', '"Referer", "XXXX"', _NO_REFERER),
    )},
    **{(f"{_WEB}._origin_of", 'return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "" → '
        f"return {new}"): _EMPTY_ORIGIN for new in (
        'f"{parts.scheme}://{parts.netloc}" if (parts.scheme and parts.netloc) or True else ""',
        'f"{parts.scheme}://{parts.netloc}" if parts.scheme or parts.netloc else ""',
        'f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "XXXX"',
    )},
    (f"{_WEB}.user", "return current_user(d.settings, d.auth_key) → return current_user(None, d.auth_key)"):
        "current_user() does not read its settings argument (the verify key is all it needs).",
    ("services.auth.service.safe_next",
     'if not value or not value.startswith("/") or value.startswith(("//", "/\\\\")): → '
     'if not value or not value.startswith("/") or value.startswith(("//", "XX/\\\\XX")):'):
        "A path starting with '/\\' contains a backslash, which the next line refuses anyway.",
    **{(_SERVICE, f'if str(attempt.get("doubleName", "")).lower() != name: → if str(attempt.get("doubleName", '
        f"{new})).lower() != name:"): _MISSING_KEY for new in ("None", "", '"XXXX"')},
    **{(_SERVICE, f'if not hmac.compare_digest(str(attempt.get("signedState", "")).encode(), '
        f'expected_state.encode()): → if not hmac.compare_digest(str(attempt.get("signedState", {new})).encode(), '
        f"expected_state.encode()):"): _MISSING_KEY for new in ("None", "", '"XXXX"')},
    **{(_SERVICE, 'if str(verified.get("email", "")).lower() != email.lower() or str(verified.get("identifier", ""))'
        f'.lower() != name: → if str(verified.get("email", {e})).lower() != email.lower() or str(verified.get('
        f'"identifier", {i})).lower() != name:'): _MISSING_KEY
       for e, i in (("None", '""'), ("", '""'), ('"XXXX"', '""'), ('""', "None"), ('""', ""), ('""', '"XXXX"'))},
    ("services.auth.sessions.SessionStore.create",
     "session = Session(secrets.token_urlsafe(32), user_id, username, email, time.time()) → session = Session("
     "secrets.token_urlsafe(None), user_id, username, email, time.time())"):
        "token_urlsafe() without a size uses its default entropy, 32 bytes: the same.",
    ("services.auth.sessions.SessionStore.get",
     "pipe = self.redis.pipeline(transaction=False) → pipe = self.redis.pipeline(transaction=None)"):
        "redis-py only tests the flag's truth: None sends the same commands as False (no MULTI/EXEC).",
    ("services.auth.sessions.SessionStore.get",
     "if ttl < 0 or ttl > lifetime or lifetime - ttl >= max(1, self.settings.session_ttl * SLIDE_FRACTION): → "
     "if ttl < 0 or ttl > lifetime or lifetime - ttl >= max(2, self.settings.session_ttl * SLIDE_FRACTION):"):
        "SESSION_TTL is at least 60 (settings), so 5 % of it is at least 3 and neither floor (1 or 2) applies.",
    ("services.auth.sessions.SessionStore.over_limit",
     "slot = int(time.time() // window) → slot = int(time.time() / window)"):
        "For a positive time, int() truncates to the floor: the same slot.",
    ("services.auth.sessions.SessionStore.get",
     'if time.time() - data["created"] > self.settings.session_absolute_ttl: → '
     'if time.time() - data["created"] >= self.settings.session_absolute_ttl:'):
        "Differs only when the session's age equals its absolute lifetime to the microsecond of time.time(): no"
        " request can aim at that instant.",
    ("services.deployer.grid.challenge._sorted_env", 'return [f"{key}={mapping[key]}" for key in sorted(mapping, '
     'key=lambda k: k.encode())] → return [f"{key}={mapping[key]}" for key in sorted(mapping, key=None)]'):
        "UTF-8 preserves code-point order, so sorting the keys' bytes and sorting the keys give the same order.",
    ("services.deployer.grid.challenge._sorted_env", 'return [f"{key}={mapping[key]}" for key in sorted(mapping, '
     'key=lambda k: k.encode())] → return [f"{key}={mapping[key]}" for key in sorted(mapping, )]'):
        "UTF-8 preserves code-point order, so sorting the keys' bytes and sorting the keys give the same order.",
    ("services.deployer.grid.render._envelope", 'raise ValueError(f"metadata is {len(encrypted)} characters, the '
     'explorer allows {MAX_METADATA_CHARS}") → raise ValueError(None)'):
        "Unreachable: Identity.encrypt_metadata already refuses a record above 1024 characters (its message is the"
        " one users see); the check stays as a guard should the encryption change.",
    ("services.backup.htpasswd.parse", 'user, sep, hashed = line.partition(":") → user, sep, hashed = '
     'line.rpartition(":")'):
        "Neither an account name nor a bcrypt hash contains ':': a line with one ':' splits the same either way,"
        " and a line with more is refused either way (the name or the hash then holds a ':').",
    ("services.backup.service.open_password", 'text = password.decode("utf-8") → text = '
     'password.decode("UTF-8")'):
        "Python's codec names are case-insensitive.",
    ("services.backup.service.parse_init", 'field = str(exc.errors(include_url=False)[0]["loc"][0]) → field = '
     'str(exc.errors(include_url=True)[0]["loc"][0])'):
        "include_url only adds a documentation link to each error; the field is read from its location.",
    ("services.backup.service.phonebook_key", "users = [] → users = None"):
        "None is not a list either: the matches are [] and the answer the same 404.",
}  # fmt: skip

STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 36: "timeout", 24: "timeout",
          -24: "timeout", 152: "timeout", 255: "timeout", 37: "type check", None: "not checked"}  # fmt: skip


def _exit_codes(target: Target) -> dict[str, int | None]:
    meta = MUTANTS / f"{target.path}.meta"
    codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
    return {name: code for name, code in codes.items() if any(fnmatch(name, g) for g in target.globs)}


def _mutated_line(mutant: str, path: Path) -> str:
    """``old → new``: the line(s) the mutant changed, from the diff `mutmut show` prints (read in-process)."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    lines = get_diff_for_mutant(mutant, path=path).splitlines()
    removed = [x[1:].strip() for x in lines if x.startswith("-") and not x.startswith("---")]
    added = [x[1:].strip() for x in lines if x.startswith("+") and not x.startswith("+++")]
    return f"{' / '.join(removed)} → {' / '.join(added)}"


def _function_of(mutant: str) -> str:
    """``services.auth.sessions.SessionStore.get`` for ``services.auth.sessions.xǁSessionStoreǁget__mutmut_3``."""
    module, _, mangled = mutant.rsplit("__mutmut_", 1)[0].rpartition(".")
    return f"{module}.{mangled.removeprefix('x_').removeprefix('xǁ').replace('ǁ', '.')}"


_QUOTED = re.compile(r"'[^']*'")


def _equivalent(function: str, change: str) -> str | None:
    """Why the mutant ``change`` of ``function`` cannot be told from the code, if it cannot."""
    if function in SQL_FUNCTIONS:
        old, _, new = change.partition(" → ")
        if old != new and old.lower() == new.lower() and _QUOTED.findall(old) == _QUOTED.findall(new):
            return SQL_CASE
    return EQUIVALENT.get((function, change))


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
            line = _mutated_line(name, target.path)
            reason = _equivalent(_function_of(name), line)
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
    os.chdir(ROOT)  # mutmut reads mutants/ relative to the working directory
    status = report(chosen)
    stores = {t.module for t in chosen if t.module.endswith(".store")}
    if stores:
        print("\nOwner conditions of the stores' SQL, removed one at a time (deploy/mutate_sql.py):", flush=True)
        for clause, outcome in mutate_sql.run(ROOT, stores):
            print(f"  {outcome:<9} {clause.module}.{clause.function}: {clause.condition.strip()}")
            status |= outcome != "killed"
    print(f"\nmake mutate: {time.monotonic() - started:.0f} s")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
