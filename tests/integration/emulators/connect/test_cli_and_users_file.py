"""The command line: flags and CONNECT_EMULATOR_* variables, users files, the state dir, and clean failures."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
import requests
from connect_emulator_support import STATE, Marketplace, StartEmulator, run_emulator_cli
from mnemonic import Mnemonic
from nacl.signing import SigningKey

from emulators.connect.users import UsersFileError, load_users_file

DAVE_ENTROPY = bytes(range(0x80, 0xA0))
DAVE_MNEMONIC = Mnemonic("english").to_mnemonic(DAVE_ENTROPY)
ERIN_SEED = bytes(range(0xA0, 0xC0))
OTHER_KYC_SEED = bytes(range(0xC0, 0xE0))


def _b64_verify_key(seed: bytes) -> str:
    return base64.b64encode(bytes(SigningKey(seed).verify_key)).decode()


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "users.json"
    path.write_text(json.dumps(document))
    return path


def test_users_file_with_a_mnemonic_replaces_the_test_users(
    tmp_path: Path, start_emulator: StartEmulator, marketplace: Marketplace
) -> None:
    users_file = _write(
        tmp_path,
        {
            "users": [
                {"double_name": "Dave.3bot", "email": "dave@example.net", "seed": DAVE_MNEMONIC},
                {"double_name": "erin.3bot", "email": "erin@example.net", "seed": ERIN_SEED.hex()},
            ],
            "kyc_seed": OTHER_KYC_SEED.hex(),
        },
    )
    emulator = start_emulator("--users-file", str(users_file))
    base = emulator.base_url
    dave = requests.get(f"{base}/api/users/dave.3bot", timeout=5).json()
    assert dave["publicKey"] == _b64_verify_key(DAVE_ENTROPY)
    assert requests.get(f"{base}/api/users/erin.3bot", timeout=5).json()["publicKey"] == _b64_verify_key(ERIN_SEED)
    assert requests.get(f"{base}/api/users/alice.3bot", timeout=5).status_code == 404
    kyc_key = requests.get(f"{base}/verification/public-key", timeout=5).text
    assert kyc_key == bytes(SigningKey(OTHER_KYC_SEED).verify_key).hex()

    marketplace.provider_url = base
    body = {"user": "dave.3bot", "state": STATE, "appid": "localhost:8080", "publickey": marketplace.publickey}
    made = requests.post(f"{base}/_emulator/attempt", json=body, timeout=5)
    assert marketplace.verify(made.json()["callback_url"]) == "dave@example.net"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "non-empty list"),
        ([{"double_name": "dave", "email": "d@example.net", "seed": ERIN_SEED.hex()}], "users[0].double_name"),
        ([{"double_name": "dave.3bot", "email": "nope", "seed": ERIN_SEED.hex()}], "users[0].email"),
        ([{"double_name": "dave.3bot", "email": "d@example.net", "seed": "ab" * 31}], "users[0].seed"),
        (
            [{"double_name": "dave.3bot", "email": "d@example.net", "seed": Mnemonic("english").generate(128)}],
            "24-word",
        ),
        (
            [{"double_name": "dave.3bot", "email": "d@example.net", "seed": " ".join(["abandon"] * 24)}],
            "checksum",
        ),
        (
            [
                {"double_name": "dave.3bot", "email": "d@example.net", "seed": ERIN_SEED.hex()},
                {"double_name": "DAVE.3bot", "email": "e@example.net", "seed": ERIN_SEED.hex()},
            ],
            "duplicate",
        ),
        ([{"double_name": "dave.3bot", "email": "d@example.net", "seed": ERIN_SEED.hex(), "x": 1}], "unknown"),
        ({"users": [], "extra": 1}, "unknown top-level"),
    ],
)
def test_invalid_users_file_is_refused_with_the_reason(tmp_path: Path, document: object, message: str) -> None:
    with pytest.raises(UsersFileError, match=re.escape(message)):
        load_users_file(_write(tmp_path, document))


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--port", "0"], {}, "--port"),
        (["--port", "http"], {}, "--port"),
        (["--callback-scheme", "ftp"], {}, "--callback-scheme"),
        (["--users-delay", "-1"], {}, "--users-delay"),
        ([], {"CONNECT_EMULATOR_KYC_DELAY": "soon"}, "CONNECT_EMULATOR_KYC_DELAY"),
        ([], {"CONNECT_EMULATOR_USERS_DOWN": "maybe"}, "CONNECT_EMULATOR_USERS_DOWN"),
        (["--users-file", "/nonexistent/users.json"], {}, "--users-file"),
        (["--no-such-flag"], {}, "unrecognized arguments"),
    ],
)
def test_bad_start_up_values_exit_2_with_one_line(args: list[str], env: dict[str, str], named: str) -> None:
    result = run_emulator_cli(["--port", "1", *args] if "--port" not in args else args, env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("connect-emulator: error: ") and named in lines[0]


def test_invalid_users_file_stops_the_cli(tmp_path: Path) -> None:
    users_file = _write(tmp_path, [{"double_name": "x.3bot", "email": "x@example.net", "seed": "zz"}])
    result = run_emulator_cli(["--users-file", str(users_file)])
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "connect-emulator: error: --users-file: users[0].seed: seed must be 64 hex characters or a 24-word mnemonic"
    )


def test_environment_sets_flags_and_flags_win(start_emulator: StartEmulator, marketplace: Marketplace) -> None:
    emulator = start_emulator(
        "--kyc-delay",
        "0",
        env={
            "CONNECT_EMULATOR_CALLBACK_SCHEME": "https",
            "CONNECT_EMULATOR_USERS_DOWN": "1",
            "CONNECT_EMULATOR_USERS_MISSING": "carol.3bot, Bob.3bot",
            "CONNECT_EMULATOR_KYC_DELAY": "5",
        },
    )
    config = requests.get(f"{emulator.base_url}/_emulator/config", timeout=5).json()
    assert config["users"] == {"missing": ["bob.3bot", "carol.3bot"], "delay": 0.0, "down": True}
    assert config["kyc"]["delay"] == 0.0  # the flag, not the variable
    assert requests.get(f"{emulator.base_url}/api/users/alice.3bot", timeout=5).status_code == 503
    body = {"user": "alice.3bot", "state": STATE, "appid": "localhost:8080", "publickey": marketplace.publickey}
    made = requests.post(f"{emulator.base_url}/_emulator/attempt", json=body, timeout=5)
    assert made.json()["callback_url"].startswith("https://localhost:8080/auth/3bot_callback?signedAttempt=")


def test_state_dir_keeps_faults_and_attempts_across_a_restart(
    tmp_path: Path, start_emulator: StartEmulator, marketplace: Marketplace
) -> None:
    state_dir = tmp_path / "state"
    first = start_emulator("--state-dir", str(state_dir))
    requests.post(f"{first.base_url}/_emulator/config", json={"kyc": {"unverified": True}}, timeout=5)
    body = {"user": "alice.3bot", "state": STATE, "appid": "localhost:8080", "publickey": marketplace.publickey}
    made = requests.post(f"{first.base_url}/_emulator/attempt", json=body, timeout=5).json()
    first.stop()
    assert json.loads((state_dir / "config.json").read_text())["kyc"]["unverified"] is True

    second = start_emulator("--state-dir", str(state_dir))
    assert requests.get(f"{second.base_url}/_emulator/config", timeout=5).json()["kyc"]["unverified"] is True
    replayed = requests.post(f"{second.base_url}/replay", json={"state": STATE}, timeout=5)
    assert replayed.json()["callback_url"] == made["callback_url"]
    # Keys are deterministic: the attempt made before the restart still verifies against the new process.
    user = requests.get(f"{second.base_url}/api/users/alice.3bot", timeout=5).json()
    assert user["publicKey"] == _b64_verify_key(bytes(range(0x20, 0x40)))
