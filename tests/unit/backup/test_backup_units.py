"""The backup service's pure parts: the §9.3 request and test vector, .htpasswd entries, the BACKUP_* settings."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest

from services.backup import htpasswd
from services.backup.config import BackupConfigError, backup_config
from services.backup.service import open_password, parse_init
from services.common.errors import ApiError
from services.common.identity import Identity
from services.common.settings import Settings

VECTOR = "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJjt3JM8MuO3hhOeEnXyYcnmxe3QJT1fTmY4XFSHWd8n9WgrCLqA=="


def test_the_test_vector_passes_init_checks_and_decrypts() -> None:
    # LOGIN_PROTOCOL §9.3: marketplace seed 0x00..0x1f, 3Bot seed 0x60..0x7f, nonce 24 × 0x09.
    threebot = Identity(bytes(range(0x60, 0x80)))
    assert threebot.verify_key_hex == "174553b456dddfc6908ecab1c101fe6ab21e2baa0617795b7d43a63482993fd5"
    req = parse_init({"threebot_name": "alice_mybot", "passwd": VECTOR, "new": True})
    assert req.sealed[:24] == b"\x09" * 24
    assert open_password(Identity(bytes(range(32))), threebot.verify_key, req.sealed) == b"correct horse battery"
    with pytest.raises(ApiError) as wrong:
        open_password(Identity(bytes(range(32))), Identity(bytes(32)).verify_key, req.sealed)
    assert wrong.value.status == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], None),
        ({"threebot_name": "a b", "passwd": VECTOR, "new": True}, "threebot_name"),
        ({"threebot_name": "a", "passwd": "x" * 513, "new": True}, "passwd"),
        ({"threebot_name": "a", "passwd": "!!!!", "new": True}, "passwd"),
        ({"threebot_name": "a", "passwd": base64.b64encode(b"x" * 24).decode(), "new": True}, "passwd"),
        ({"threebot_name": "a", "passwd": VECTOR, "new": 1}, "new"),
        ({"threebot_name": "a", "passwd": VECTOR}, "new"),
    ],
)
def test_malformed_init_requests_name_the_field(body: object, field: str | None) -> None:
    with pytest.raises(ApiError) as err:
        parse_init(body)
    assert err.value.status == 400
    assert err.value.errors[0].field == field


def test_the_account_name_is_the_3bot_name_before_its_first_dot() -> None:
    assert parse_init({"threebot_name": "alice.3bot", "passwd": VECTOR, "new": False}).username == "alice"


def test_htpasswd_entries_are_2y_bcrypt_and_parse_back() -> None:
    hashed = htpasswd.hash_password(b"p:a$s`w'o\"rd")
    assert hashed.startswith("$2y$10$")
    assert htpasswd.check_password(b"p:a$s`w'o\"rd", hashed)
    assert not htpasswd.check_password(b"other", hashed)
    text = htpasswd.render({"alice": hashed, "bob_2": htpasswd.hash_password(b"12345678")})
    assert list(htpasswd.parse(text)) == ["alice", "bob_2"]
    for bad in ("alice", "alice:plain", f"Alice:{hashed}", f"alice:{hashed}\nalice:{hashed}", f"a;b:{hashed}"):
        with pytest.raises(htpasswd.HtpasswdError):
            htpasswd.parse(bad)
    with pytest.raises(htpasswd.HtpasswdError):
        htpasswd.render({"a\nb": hashed})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"BACKUP_SERVER1": ""}, "BACKUP_SERVER1 is not set"),
        ({"BACKUP_SERVER2": ""}, "BACKUP_SERVER2 is not set"),
        ({"BACKUP_SERVER1": "u@h:70000"}, "BACKUP_SERVER1 is invalid"),
        ({"BACKUP_SERVER2": "u@127.0.0.1:22", "BACKUP_SERVER1": "u@127.0.0.1:22"}, "BACKUP_SERVER2 is invalid"),
        ({"BACKUP_SSH_KEY_FILE": ""}, "BACKUP_SSH_KEY_FILE is not set"),
        ({"BACKUP_SSH_KEY_FILE": "/nonexistent/key"}, "BACKUP_SSH_KEY_FILE is invalid"),
        ({"BACKUP_KNOWN_HOSTS_FILE": ""}, "BACKUP_KNOWN_HOSTS_FILE is not set"),
        ({"BACKUP_KNOWN_HOSTS_FILE": "/nonexistent/known_hosts"}, "BACKUP_KNOWN_HOSTS_FILE is invalid"),
    ],
)
def test_missing_or_malformed_backup_settings_are_named(
    make_settings: Callable[..., Settings], overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(BackupConfigError, match=message):
        backup_config(make_settings(**overrides))


def test_a_complete_backup_configuration_loads(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    config = backup_config(make_settings(BACKUP_REST_PORT2="9443"))
    assert [s.key for s in config.servers] == ["server1", "server2"]
    assert config.servers[1].rest_address.endswith(":9443")
