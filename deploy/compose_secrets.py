"""The seed files compose mounts (deploy/docker-compose.yml): ``python -m deploy.compose_secrets [--dev] DIR``.

Creates what is missing — ``DIR/identity/identity.seed`` (the marketplace grid identity) and
``DIR/auth/auth-signing.seed`` (the key that signs the per-request user assertions), 24 words each, and the empty
``DIR/backup/`` for the backup SSH key and known-hosts file — and prints the auth seed's public half: the value of
``AUTH_PUBLIC_KEY`` for every other service. Existing files are kept as they are.

Production: the files are mode 0600 and the directories 0700; then ``chown -R 10001 DIR`` (the image's user).
``--dev`` (``make up``): files 0644 and directories 0755, so the containers' user reads a developer's files
without root. A production process refuses such a seed (services/common/production.py): a dev directory is never
used in public by mistake.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.common.identity import load_identity

KINDS = ("identity", "auth", "backup")


def prepare(directory: Path, *, dev: bool) -> str:
    """Create the missing seeds under ``directory``; the auth public key (hex)."""
    for kind in KINDS:
        (directory / kind).mkdir(parents=True, exist_ok=True)
        (directory / kind).chmod(0o755 if dev else 0o700)
    auth_seed = directory / "auth" / "auth-signing.seed"
    for path in (directory / "identity" / "identity.seed", auth_seed):
        if not path.exists():
            load_identity(path, create=True)  # written 0600 with O_EXCL: never overwrites a seed
            path.chmod(0o644 if dev else 0o600)
    return load_identity(auth_seed).verify_key.hex()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.compose_secrets", description=__doc__.split("\n")[0])
    parser.add_argument("--dev", action="store_true", help="files readable by the containers' user (make up)")
    parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    print(prepare(args.directory, dev=args.dev))


if __name__ == "__main__":
    main(sys.argv[1:])
