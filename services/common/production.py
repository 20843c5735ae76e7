"""What a process refuses at start in production, beyond malformed settings: the keys its role needs.

Each role gets only the secrets it uses (the compose file mounts exactly these, ``tests/integration/test_compose.py``
checks it against :data:`SEEDS`):

- the marketplace identity (``IDENTITY_SEED_FILE``): auth (the login's box key), chatflow (secret answers are
  sealed to it), the deployer and pools web services and workers (they sign explorer requests and workloads), and
  backup-web (it opens the sealed backup passwords);
- the auth signing seed (``AUTH_SIGNING_SEED_FILE``): auth only; every other web service verifies assertions with
  ``AUTH_PUBLIC_KEY`` and, in production, refuses to start without it (never a 500 per request);
- the backup SSH key (``BACKUP_SSH_KEY_FILE``): backup-web and backup-worker only.

In production a seed file must exist and grant nothing to group or others (``chmod 600``), and auth-web's
``AUTH_PUBLIC_KEY``, when set (compose gives it to every service), must be its signing seed's public half.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

from services.common.identity import IdentityError, load_identity
from services.common.settings import Settings

IDENTITY = "IDENTITY_SEED_FILE"
AUTH_SEED = "AUTH_SIGNING_SEED_FILE"
BACKUP_KEY = "BACKUP_SSH_KEY_FILE"

SEEDS: dict[str, tuple[str, ...]] = {
    "auth-web": (IDENTITY, AUTH_SEED),
    "chatflow-web": (IDENTITY,),
    "deployer-web": (IDENTITY,),
    "deployer-worker": (IDENTITY,),
    "pools-web": (IDENTITY,),
    "pools-worker": (IDENTITY,),
    "backup-web": (IDENTITY, BACKUP_KEY),
    "backup-worker": (BACKUP_KEY,),
}
VERIFIERS = ("chatflow-web", "deployer-web", "pools-web", "backup-web")


def _seed_problem(variable: str, path: Path | None) -> str | None:
    if path is None:
        return f"{variable} is not set"
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        return f"{variable} {path} cannot be read: {exc.strerror}"
    if mode & 0o077:
        return f"{variable} {path} has group or other permissions (mode {mode:04o}): chmod 600 {path}"
    return None


def start_problem(settings: Settings, role: str) -> str | None:
    """The first reason ``role`` must not start with ``settings``; None when it may.

    Dev and test may derive the auth public key from ``AUTH_SIGNING_SEED_FILE`` and generate missing seeds; only
    a verifier with neither key nor seed is refused there.
    """
    production = settings.app_env == "production"
    if role in VERIFIERS and not settings.auth_public_key and (production or settings.auth_signing_seed_file is None):
        return f"AUTH_PUBLIC_KEY is not set: {role} verifies the auth service's assertions with it"
    if not production:
        return None
    for variable in SEEDS.get(role, ()):
        problem = _seed_problem(variable, getattr(settings, variable.lower()))
        if problem is not None:
            return problem
    if role == "auth-web" and settings.auth_public_key and settings.auth_signing_seed_file is not None:
        return _key_pair_problem(settings.auth_public_key, Path(settings.auth_signing_seed_file))
    return None


def _key_pair_problem(public_key: str, seed_file: Path) -> str | None:
    # The other services would refuse every assertion auth signs: a 401 for everyone, noticed only by users.
    try:
        key = load_identity(seed_file).verify_key.hex()
    except IdentityError as exc:
        return f"AUTH_SIGNING_SEED_FILE is invalid: {exc}"
    if key != public_key:
        return (
            "AUTH_PUBLIC_KEY is not the public key of AUTH_SIGNING_SEED_FILE: every other service would refuse "
            "auth's assertions (python -m deploy.compose_secrets prints the right one)"
        )
    return None


def check_start_or_exit(settings: Settings, role: str) -> None:
    """:func:`start_problem`, or the process ends with one line and exit code 2 (like ``load_or_exit``)."""
    problem = start_problem(settings, role)
    if problem is not None:
        print(f"configuration error: {problem}", file=sys.stderr)
        raise SystemExit(2)
