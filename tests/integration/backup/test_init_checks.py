"""`init`'s phonebook lookup (services/backup/service.py `phonebook_key`) against the real grid emulator, served
from a thread so `make mutate` can run it per mutant: only the one user of that exact name, with a sound key.
An explorer answering outside its contract (no list, other names, twice the name) is played over real HTTP too."""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from emulators.grid.app import create_app
from emulators.grid.config import EmulatorConfig
from services.backup.service import phonebook_key
from services.common.errors import ApiError
from services.common.explorer import Explorer, ExplorerUnavailable
from services.common.identity import Identity
from services.common.settings import Settings

MARKETPLACE = Identity(bytes(range(32)))


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    state = tmp_path_factory.mktemp("grid") / "grid.db"
    app = create_app(EmulatorConfig(state_path=state, farms=1, nodes=1, gateways=0))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/v1", state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def explorer(grid: tuple[str, Path], make_settings: Callable[..., Settings]) -> Explorer:
    return Explorer(make_settings(EXPLORER_URL=grid[0]), MARKETPLACE, attempts=1)


def register(grid: tuple[str, Path], identity: Identity, name: str | None = None) -> str:
    name = name or f"t{uuid.uuid4().hex[:10]}_bot"
    body = {"name": name, "email": f"{name}@example.org", "pubkey": identity.verify_key_hex, "host": "",
            "description": ""}  # fmt: skip
    assert requests.post(f"{grid[0]}/users", json=body, timeout=10).status_code == 201
    return name


def set_pubkey(grid: tuple[str, Path], name: str, pubkey: str) -> None:
    """A phonebook entry whose key the explorer never checked (the emulator refuses one at registration)."""
    with sqlite3.connect(grid[1]) as conn:
        assert conn.execute("UPDATE users SET pubkey = ? WHERE name = ?", (pubkey, name)).rowcount == 1


def refusal(explorer: Explorer, name: str) -> tuple[int, str, str, str, str | None]:
    with pytest.raises(ApiError) as err:
        phonebook_key(explorer, name)
    (error,) = err.value.errors
    return err.value.status, err.value.message, error.code, error.description, error.field


NOT_FOUND = (404, "no such 3Bot in the phonebook", "not_found", "no such 3Bot in the phonebook", "threebot_name")
MALFORMED = (404, "the 3Bot's phonebook key is malformed", "not_found", "bad key", None)


def test_the_key_is_the_phonebook_key_of_that_exact_name(grid: tuple[str, Path], explorer: Explorer) -> None:
    threebot, other = Identity(bytes(range(0x60, 0x80))), Identity(bytes(range(0x40, 0x60)))
    name = register(grid, threebot)
    register(grid, other, name + "x")  # a longer name sharing the prefix
    register(grid, other, name[:-1])
    assert phonebook_key(explorer, name) == threebot.verify_key
    assert phonebook_key(explorer, name + "x") == other.verify_key


def test_a_name_not_in_the_phonebook_is_a_404(explorer: Explorer) -> None:
    assert refusal(explorer, f"n{uuid.uuid4().hex[:10]}") == NOT_FOUND


@pytest.mark.parametrize("pubkey", ["", "zz" * 32, "ab" * 31, "ab" * 33, "abc", "ab " * 32, "ab" * 32 + "\n"])
def test_a_malformed_phonebook_key_is_a_404(grid: tuple[str, Path], explorer: Explorer, pubkey: str) -> None:
    name = register(grid, Identity(bytes(range(0x20, 0x40))))
    set_pubkey(grid, name, pubkey)
    assert refusal(explorer, name) == MALFORMED


def test_an_uppercase_hex_key_is_read(grid: tuple[str, Path], explorer: Explorer) -> None:
    threebot = Identity(bytes(range(0x21, 0x41)))
    name = register(grid, threebot)
    set_pubkey(grid, name, threebot.verify_key_hex.upper())
    assert phonebook_key(explorer, name) == threebot.verify_key


def test_an_explorer_that_does_not_answer_is_not_a_404(make_settings: Callable[..., Settings]) -> None:
    from tests.conftest import closed_port

    down = Explorer(make_settings(EXPLORER_URL=f"http://127.0.0.1:{closed_port()}/api/v1"), MARKETPLACE, attempts=1)
    with pytest.raises(ExplorerUnavailable):
        phonebook_key(down, "alice")


class LooseExplorer:
    """An explorer outside its contract: ``GET /users?name=X`` answers ``answers[X]`` (any JSON the test sets), or
    our own registration for a name without an answer; without a name it lists nobody (a first page without X)."""

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {}

    def __call__(self, environ: Any, start_response: Any) -> Any:
        name = Request(environ).args.get("name")
        own = [{"id": 1, "name": name, "pubkey": MARKETPLACE.verify_key_hex}]
        body = [] if name is None else self.answers.get(name, own)
        status = 400 if body == "refuse" else 200  # a 4xx: the explorer does not know that name
        return Response(json.dumps(body), status, mimetype="application/json")(environ, start_response)


@pytest.fixture(scope="module")
def loose_server() -> Iterator[tuple[str, LooseExplorer]]:
    loose = LooseExplorer()
    server = make_server("127.0.0.1", 0, loose, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/v1", loose
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def loose(loose_server: tuple[str, LooseExplorer], make_settings: Callable[..., Settings]) -> Iterator[Explorer]:
    loose_server[1].answers.clear()
    yield Explorer(make_settings(EXPLORER_URL=loose_server[0]), MARKETPLACE, attempts=1)


THREEBOT = Identity(bytes(range(0x60, 0x80)))
OTHER = Identity(bytes(range(0x40, 0x60)))


def test_only_the_entry_of_that_exact_name_counts(loose_server: tuple[str, LooseExplorer], loose: Explorer) -> None:
    answers = loose_server[1].answers
    answers["alice"] = ["alice", 7, None, {"name": "alicex", "pubkey": OTHER.verify_key_hex},
                        {"name": "alice", "pubkey": THREEBOT.verify_key_hex}]  # fmt: skip
    assert phonebook_key(loose, "alice") == THREEBOT.verify_key  # asked by name: without it, nobody is listed
    answers["bob"] = [{"name": "alice", "pubkey": OTHER.verify_key_hex}]
    assert refusal(loose, "bob") == NOT_FOUND


@pytest.mark.parametrize(
    "answer",
    [None, 7, "alice", "refuse", {"name": "alice", "pubkey": "00" * 32}, [],
     [{"name": "alice", "pubkey": THREEBOT.verify_key_hex}, {"name": "alice", "pubkey": OTHER.verify_key_hex}]],
)  # fmt: skip
def test_anything_but_one_entry_of_that_name_is_a_404(
    loose_server: tuple[str, LooseExplorer], loose: Explorer, answer: Any
) -> None:
    loose_server[1].answers["alice"] = answer
    assert refusal(loose, "alice") == NOT_FOUND


@pytest.mark.parametrize(
    "entry", [{"name": "alice"}, {"name": "alice", "pubkey": None}, {"name": "alice", "pubkey": 7}]
)
def test_an_entry_without_a_hex_key_is_a_404(
    loose_server: tuple[str, LooseExplorer], loose: Explorer, entry: dict[str, Any]
) -> None:
    loose_server[1].answers["alice"] = [entry]
    assert refusal(loose, "alice") == MALFORMED
