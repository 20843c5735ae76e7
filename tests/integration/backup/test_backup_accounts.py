"""LOGIN_PROTOCOL §9 end to end: a hosted 3Bot gets a restic account on both real backup servers and uses it."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest

from deploy.local_backup import LocalBackupServer
from tests.integration.backup.conftest import Backups, ThreeBot


def restic(server: LocalBackupServer, user: str, password: str, *args: str, repo_user: str | None = None,
           repo_password: str | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """The real restic binary against ``server``'s REST backend over TLS (the setup script's certificate)."""
    repo = f"rest:https://{quote(user, safe='')}:{quote(password, safe='')}@127.0.0.1:{server.rest_port}/" \
           f"{repo_user or user}/"  # fmt: skip
    env = {**os.environ, "RESTIC_PASSWORD": repo_password or password, "RESTIC_CACHE_DIR": "/nonexistent-cache"}
    return subprocess.run(["restic", "--no-cache", "-r", repo, "--cacert", str(server.cert), *args],
                          env=env, capture_output=True, text=True, timeout=120)  # fmt: skip


def test_public_key_is_the_marketplace_box_key(backups: Backups) -> None:
    from services.common.identity import load_identity

    assert backups.public_key() == load_identity(backups.settings.identity_seed_file).box_public_key_b64


def test_a_3bot_backs_up_to_both_servers_and_restores_byte_identical(
    backups: Backups, explorer: str, tmp_path: Path
) -> None:
    bot = ThreeBot(explorer, "alice_mybot")
    password = "correct horse battery staple"
    sealed = bot.seal(password.encode(), backups.public_key())
    response = backups.init(bot.name, sealed, True)
    assert response.status_code == 200, response.text
    hosts = response.json()
    assert hosts == [f"127.0.0.1:{s.rest_port}" for s in backups.servers]
    for server in backups.servers:
        assert backups.entries(server)["alice_mybot"].startswith("$2y$")

    source = tmp_path / "config"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "blob.bin").write_bytes(os.urandom(200_000))
    (source / "3bot.toml").write_text("name = 'alice_mybot'\n")
    for server in backups.servers:
        assert restic(server, bot.name, password, "init").returncode == 0
        backup = restic(server, bot.name, password, "backup", str(source))
        assert backup.returncode == 0, backup.stderr
        target = tmp_path / f"restore{server.index}"
        restored = restic(server, bot.name, password, "restore", "latest", "--target", str(target))
        assert restored.returncode == 0, restored.stderr
        comparison = filecmp.dircmp(source, target / source.relative_to("/"))
        assert not comparison.diff_files and not comparison.left_only and not comparison.right_only
        assert (target / source.relative_to("/") / "sub" / "blob.bin").read_bytes() == (
            source / "sub" / "blob.bin"
        ).read_bytes()

    # Restoring a 3Bot: the right password → 200 (last verified recorded), a wrong one → 401.
    assert backups.init(bot.name, bot.seal(password.encode(), backups.public_key()), False).status_code == 200
    wrong = backups.init(bot.name, bot.seal(b"not the password", backups.public_key()), False)
    assert wrong.status_code == 401, wrong.text

    # Another account's credentials cannot reach this repository (private repositories), on either server.
    other = ThreeBot(explorer, "bob_otherbot")
    assert backups.init(other.name, other.seal(b"bob's password!", backups.public_key()), True).status_code == 200
    for server in backups.servers:
        listing = restic(server, other.name, "bob's password!", "snapshots", repo_user=bot.name,
                         repo_password=password)  # fmt: skip
        assert listing.returncode != 0
        assert restic(server, bot.name, password, "snapshots").returncode == 0
        # A wrong basic-auth password is refused too.
        assert restic(server, bot.name, "bob's password!", "snapshots", repo_password=password).returncode != 0


def test_init_errors(backups: Backups, explorer: str) -> None:
    bot = ThreeBot(explorer, "carol_bot")
    key = backups.public_key()
    assert backups.init("nobody_here", bot.seal(b"password123", key), True).status_code == 404
    # Sealed by someone else than the phonebook identity: does not decrypt → 400.
    impostor = ThreeBot(explorer, "mallory_bot")
    assert backups.init(bot.name, impostor.seal(b"password123", key), True).status_code == 400
    assert backups.init(bot.name, bot.seal(b"short", key), True).status_code == 400
    assert backups.init(bot.name, "not base64!", True).status_code == 400
    assert backups.init(bot.name, bot.seal(b"password123", key), "yes").status_code == 400  # type: ignore[arg-type]
    # new=false for an account that was never created: nothing matches → 401.
    assert backups.init(bot.name, bot.seal(b"password123", key), False).status_code == 401
    # Two 3Bot names mapping to one account name (before the first '.'): the second cannot take it over.
    assert backups.init(bot.name, bot.seal(b"password123", key), True).status_code == 200
    before = [s.htpasswd.read_bytes() for s in backups.servers]
    squatter = ThreeBot(explorer, "carol_bot.evil")
    response = backups.init(squatter.name, squatter.seal(b"taken over!", key), True)
    assert response.status_code == 409, response.text
    assert [s.htpasswd.read_bytes() for s in backups.servers] == before


@pytest.mark.parametrize(
    "password",
    [b"pw; touch /tmp/MARKER", b"$(touch /tmp/MARKER)x", b"`touch /tmp/MARKER`", b"'\"quoted'\"", b"user:colon:pw",
     b"line\nbreak /tmp/MARKER", b"nul\x00byte--", b"x" * 10_000],
)  # fmt: skip
def test_hostile_passwords_are_refused_or_stored_safely(backups: Backups, explorer: str, password: bytes) -> None:
    marker = [s.data / "tmp" / "MARKER" for s in backups.servers] + [Path("/tmp/MARKER")]
    bot = ThreeBot(explorer, f"hostile_{abs(hash(password)) % 10**8}")
    response = backups.init(bot.name, bot.seal(password, backups.public_key()), True)
    printable = len(password) <= 72 and password.decode(errors="replace").isprintable()
    assert response.status_code == (200 if printable else 400), response.text
    for server in backups.servers:
        entries = backups.entries(server)  # parses back: every line is name:bcrypt
        assert (bot.name in entries) == printable
    if printable:
        verify = backups.init(bot.name, bot.seal(password, backups.public_key()), False)
        assert verify.status_code == 200
    assert not any(path.exists() for path in marker)


@pytest.mark.parametrize(
    "name", ["a;touch /tmp/MARKER", "$(touch /tmp/MARKER)", "`id`", "x'y", 'x"y', "a\nb", "a:b", "a\x00b",
             "A" * 10_000, ".hidden", "Upper"],
)  # fmt: skip
def test_hostile_names_are_refused(backups: Backups, name: str) -> None:
    before = [s.htpasswd.read_bytes() for s in backups.servers]
    response = backups.init(name, "AAAA" * 20, True)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == "threebot_name"
    assert [s.htpasswd.read_bytes() for s in backups.servers] == before


def test_the_setup_script_is_idempotent(backups: Backups, explorer: str) -> None:
    """Running setup.sh again on a live server changes nothing that matters: accounts, certificate, host key."""
    bot = ThreeBot(explorer, "idem_bot")
    assert backups.init(bot.name, bot.seal(b"idempotent pw", backups.public_key()), True).status_code == 200
    server = backups.servers[0]
    before = (server.htpasswd.read_bytes(), server.cert.read_bytes(), server.known_hosts_line())
    server.setup(Path(backups.env["BACKUP_SSH_KEY_FILE"] + ".pub"))
    assert (server.htpasswd.read_bytes(), server.cert.read_bytes(), server.known_hosts_line()) == before
    assert backups.init(bot.name, bot.seal(b"idempotent pw", backups.public_key()), False).status_code == 200
    # The systemd unit it writes is one systemd accepts (no systemd runs here: it is verified, not started).
    if shutil.which("systemd-analyze"):
        unit = server.base / "systemd" / f"backup{server.index}.service"
        verified = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
        assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr


def test_setup_with_an_operator_certificate_from_a_ca(backups: Backups, tmp_path: Path) -> None:
    """`setup.sh --cert --key`: the REST server presents the operator's certificate; restic trusts the CA only."""
    from deploy.local_backup import free_port
    from services.backup import htpasswd
    from tests.integration.backup.conftest import STATE, _wait_port

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp_path)

    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=Test backup CA", "-keyout", "ca.key", "-out", "ca.pem")  # fmt: skip
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server.key", "-out", "server.csr")  # fmt: skip
    (tmp_path / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "san.ext", "-out", "server.pem")  # fmt: skip
    server = LocalBackupServer(3, STATE / f"ca-{os.getpid()}-{free_port()}", free_port(), free_port())
    try:
        server.setup(Path(backups.env["BACKUP_SSH_KEY_FILE"] + ".pub"),
                     ["--cert", str(tmp_path / "server.pem"), "--key", str(tmp_path / "server.key")])  # fmt: skip
        server.htpasswd.write_text(htpasswd.render({"ca_user": htpasswd.hash_password(b"ca password 1")}))
        rest = backups.processes.start("rest-ca", server.rest_command(), {})
        _wait_port(server.rest_port, rest)
        assert server.cert.read_bytes() == (tmp_path / "server.pem").read_bytes()
        ok = subprocess.run(
            ["restic", "--no-cache", "-r", f"rest:https://ca_user:ca%20password%201@127.0.0.1:{server.rest_port}/ca_user/",
             "--cacert", str(tmp_path / "ca.pem"), "init"],
            env={**os.environ, "RESTIC_PASSWORD": "ca password 1"}, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert ok.returncode == 0, ok.stderr
        untrusted = subprocess.run(
            ["restic", "--no-cache", "-r", f"rest:https://ca_user:ca%20password%201@127.0.0.1:{server.rest_port}/ca_user/",
             "snapshots"],
            env={**os.environ, "RESTIC_PASSWORD": "ca password 1"}, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert untrusted.returncode != 0 and "certificate" in untrusted.stderr
        rest.terminate()
        rest.wait(timeout=10)
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", str(server.base)], check=False)
