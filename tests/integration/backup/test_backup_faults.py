"""Faults of the backup servers: one down during `init`, a changed host key, many `init`s at once."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2
import pytest

from services.backup import htpasswd
from services.backup.config import backup_config
from services.backup.remote import HostKeyRefused, sftp_session
from tests.conftest import TEST_DATABASE_URL
from tests.integration.backup.conftest import Backups, ThreeBot, start_worker


def _record(name: str) -> tuple[bool, bool] | None:
    with psycopg2.connect(TEST_DATABASE_URL) as conn, conn.cursor() as cur:
        cur.execute("SELECT server1_done, server2_done FROM backup.accounts WHERE threebot_name = %s", (name,))
        row = cur.fetchone()
    conn.close()
    return (bool(row[0]), bool(row[1])) if row else None


def test_one_server_down_the_account_is_created_on_the_other_and_completed_later(
    backups: Backups, explorer: str
) -> None:
    start_worker(backups)
    second = backups.servers[1]
    bot = ThreeBot(explorer, "dave_bot")
    backups.stop_sshd(second)
    try:
        response = backups.init(bot.name, bot.seal(b"dave's password", backups.public_key()), True)
        assert response.status_code == 202, response.text
        assert response.headers["Backup-Pending"] == f"127.0.0.1:{second.rest_port}"
        assert response.json() == [f"127.0.0.1:{s.rest_port}" for s in backups.servers]
        assert bot.name in backups.entries(backups.servers[0])
        assert bot.name not in backups.entries(second)
        assert _record(bot.name) == (True, False)
        # While the server is down the worker cannot complete it (beat runs every 2 s).
        time.sleep(5)
        assert _record(bot.name) == (True, False)
        # The password is checked where the account is: right → 200, wrong → 401.
        assert backups.init(bot.name, bot.seal(b"dave's password", backups.public_key()), False).status_code == 200
        assert backups.init(bot.name, bot.seal(b"wrong password", backups.public_key()), False).status_code == 401
    finally:
        backups.start_sshd(second)
    deadline = time.monotonic() + 60
    while _record(bot.name) != (True, True):
        assert time.monotonic() < deadline, backups.processes.log("backup-worker")[-3000:]
        time.sleep(0.5)
    assert backups.entries(second)[bot.name] == backups.entries(backups.servers[0])[bot.name]
    assert backups.init(bot.name, bot.seal(b"dave's password", backups.public_key()), False).status_code == 200


def test_a_changed_host_key_is_refused_and_logged(
    backups: Backups, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = backups.servers[0]
    # The known-hosts file names another key for server 1 (as after a reinstall, or a man in the middle).
    other = tmp_path / "other_host_key"
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    kind, key = (tmp_path / "other_host_key.pub").read_text().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{first.ssh_port} {kind} {key}\n")
    settings = backups.settings.model_copy(update={"backup_known_hosts_file": known})
    config = backup_config(settings)
    with pytest.raises(HostKeyRefused, match="differs"), sftp_session(config, config.servers[0]):
        pass
    # A host missing from the file is refused too (never added).
    known.write_text("")
    with pytest.raises(HostKeyRefused, match="not in"), sftp_session(config, config.servers[0]):
        pass
    assert known.read_text() == ""
    assert "backup server host key changed: refused" in caplog.text
    assert "backup server host key unknown: refused" in caplog.text


def test_a_server_whose_host_key_changed_gets_no_account(
    backups: Backups, explorer: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The server is "reinstalled" (new host key, same address): init writes only to the other one."""
    first = backups.servers[0]
    saved = {p: p.read_bytes() for p in (first.host_key, first.host_key.with_suffix(".pub"))}
    bot = ThreeBot(explorer, "erin_bot")
    backups.stop_sshd(first)
    first.new_host_key()
    backups.start_sshd(first)
    try:
        response = backups.init(bot.name, bot.seal(b"erin's password", backups.public_key()), True)
        assert response.status_code == 202, response.text
        assert response.headers["Backup-Pending"] == f"127.0.0.1:{first.rest_port}"
        assert bot.name not in backups.entries(first)
        assert bot.name in backups.entries(backups.servers[1])
        assert "backup server host key changed: refused" in caplog.text
    finally:
        backups.stop_sshd(first)
        for path, content in saved.items():
            path.write_bytes(content)
        backups.start_sshd(first)


def test_twenty_concurrent_inits_leave_twenty_well_formed_entries_on_each_server(
    backups: Backups, explorer: str
) -> None:
    key = backups.public_key()
    bots = [ThreeBot(explorer, f"crowd{i:02d}_bot") for i in range(20)]
    bodies = [(bot.name, bot.seal(f"password of {bot.name}".encode(), key)) for bot in bots]
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda body: backups.init(body[0], body[1], True), bodies))
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses if r.status_code != 200]
    for server in backups.servers:
        entries = backups.entries(server)  # parses: every line well-formed, no name twice
        for bot in bots:
            assert htpasswd.check_password(f"password of {bot.name}".encode(), entries[bot.name])


def test_the_worker_never_records_a_copy_of_an_account_that_init_changed_meanwhile(migrated_database: str) -> None:
    """The completion's guard: an entry copied from a snapshot older than the last `init` is not recorded."""
    from services.backup import store
    from services.common.db import Database

    db = Database(migrated_database)
    try:
        store.record(db, "race_bot", "race_bot", True, False)
        listed = store.get(db, "race_bot")
        assert listed is not None
        store.record(db, "race_bot", "race_bot", True, False)  # `init` with a new password, server 2 still down
        assert store.mark_done(db, listed, 2) is False
        current = store.get(db, "race_bot")
        assert current is not None and not current.server2_done
        assert store.mark_done(db, current, 2) is True
        assert store.get(db, "race_bot").complete  # type: ignore[union-attr]
    finally:
        with db.transaction() as cur:
            cur.execute("DELETE FROM backup.accounts WHERE threebot_name = 'race_bot'")
        db.close()
