"""The seed files compose mounts (deploy/docker-compose.yml): ``python -m deploy.compose_secrets [--dev] DIR``.

Creates what is missing — ``DIR/identity/identity.seed`` (the marketplace grid identity) and
``DIR/auth/auth-signing.seed`` (the key that signs the per-request user assertions), 24 words each, and the empty
``DIR/backup/`` for the backup SSH key and known-hosts file — and prints the auth seed's public half: the value of
``AUTH_PUBLIC_KEY`` for every other service. Existing files are kept as they are.

Production: the files are mode 0600 and the directories 0700; then ``chown -R 10001 DIR`` (the image's user).
``--dev`` (``make up``): files 0644 and directories 0755, so the containers' user reads a developer's files
without root; also a throw-away backup SSH key and an empty known-hosts file (the dev profile has no backup
server). A production process refuses such a seed (services/common/production.py): a dev directory is never
used in public by mistake.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

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
    if dev:
        _dev_backup_files(directory / "backup")
    return load_identity(auth_seed).verify_key.hex()


def _dev_backup_files(directory: Path) -> None:
    """The dev profile runs no backup server: a fresh SSH key and an empty known-hosts file let backup-web and
    backup-worker start (compose-dev.env names two unreachable servers); creating a backup account then fails
    as with servers that are down."""
    key = directory / "backup_ssh_key"
    if not key.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption())
        key.write_bytes(pem)
        key.chmod(0o644)
    (directory / "backup_known_hosts").touch()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.compose_secrets", description=__doc__.split("\n")[0])
    parser.add_argument("--dev", action="store_true", help="files readable by the containers' user (make up)")
    parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    print(prepare(args.directory, dev=args.dev))


if __name__ == "__main__":
    main(sys.argv[1:])
