"""deploy/compose_secrets.py: the seeds compose mounts; the dev profile's throw-away backup key."""

from __future__ import annotations

from pathlib import Path

import paramiko

from deploy.compose_secrets import prepare
from services.common.identity import load_identity


def test_dev_seeds_are_readable_and_the_backup_processes_get_a_key_and_a_known_hosts_file(tmp_path: Path) -> None:
    key = prepare(tmp_path, dev=True)
    assert key == load_identity(tmp_path / "auth" / "auth-signing.seed").verify_key.hex()
    backup = tmp_path / "backup"
    assert isinstance(paramiko.PKey.from_path(backup / "backup_ssh_key"), paramiko.Ed25519Key)
    assert (backup / "backup_known_hosts").read_text() == ""
    for path in (tmp_path / "identity" / "identity.seed", backup / "backup_ssh_key"):
        assert path.stat().st_mode & 0o777 == 0o644, path
    # A second run keeps every file as it is.
    before = (backup / "backup_ssh_key").read_bytes()
    assert prepare(tmp_path, dev=True) == key
    assert (backup / "backup_ssh_key").read_bytes() == before


def test_production_seeds_are_private_and_the_backup_key_is_the_operators(tmp_path: Path) -> None:
    prepare(tmp_path, dev=False)
    assert (tmp_path / "identity" / "identity.seed").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "backup").stat().st_mode & 0o777 == 0o700
    assert list((tmp_path / "backup").iterdir()) == []
