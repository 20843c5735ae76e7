"""No input breaks the API: schemathesis sends generated requests to every operation of every service's OpenAPI
document, through the real Caddy of the whole stack (``deploy.run_local``: every service, worker and emulator),
as a signed-in user who accepted the terms.

Checks on every answer: no 5xx (``not_a_server_error``), a status code and content type the document declares, a
body conforming to the document's schema, and every 4xx in the standard error shape (``standard_error_shape``).
The operations with side effects run too (wizard starts and answers, pool purchases, solution cancellations,
backup accounts): the grid and login emulators make that safe. Derandomized, with a bounded number of examples per
operation, so a run is repeatable and takes a couple of minutes; the totals are printed at the end (README, API).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.test_wizard_ubuntu import running_stack
from tests.integration.auth.conftest import Browser

PREFIXES = ("/auth", "/api/chatflows", "/api/solutions", "/api/pools", "/api/backup")
EXAMPLES = 60  # generated examples per operation and mode: valid input (positive), and input the schema refuses
USER = "carol.3bot"
STANDARD_ERROR_KEYS = {"message", "errors", "request_id"}


@dataclass
class Api:
    proxy: str
    connect: str
    session: requests.Session
    examples: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    by_operation: Counter[tuple[str, int]] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    # Real ids by path parameter name: half the examples of an operation address an object that exists.
    real: dict[str, list[Any]] = field(default_factory=dict)

    def sign_in(self) -> requests.Session:
        """A new session of ``USER`` (the terms stay accepted: they belong to the user, not to the session)."""
        browser = Browser(SimpleNamespace(proxy=self.proxy, connect=self.connect))  # type: ignore[arg-type]
        browser.login(USER)
        browser.http.headers["Origin"] = self.proxy
        return browser.http


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    limits = {"LOGIN_RATE_LIMIT": "10000", "BACKUP_RATE_LIMIT_NAME": "10000", "BACKUP_RATE_LIMIT_ADDRESS": "10000"}
    with running_stack(tmp_path_factory.mktemp("fuzz-stack"), "marketplace_fuzz", **limits) as stack:
        proxy = stack["proxy"]
        api = Api(proxy, stack["connect"], requests.Session())
        api.session = api.sign_in()
        accepted = api.session.post(f"{proxy}/auth/terms/accept")
        assert accepted.status_code == 200 and accepted.json()["accepted"], accepted.text
        _make_real_objects(api)
        yield api
        print(f"\nstack logs: {stack['logs']}")
        print(f"schemathesis: {len(api.examples)} operations, {sum(api.examples.values())} requests, "
              f"{len(api.server_errors)} answers 5xx; by status: {dict(sorted(api.statuses.items()))}")  # fmt: skip
        for (operation, status), count in sorted(api.by_operation.items()):
            print(f"  {count:5d}  {status}  {operation}")


def _make_real_objects(api: Api) -> None:
    """A pool bought on farm 1 (paid by the emulator), two wizard sessions of every type — one at its first step,
    one walked on with plausible answers as far as they take it — and a network deployed through its wizard: the
    generated requests address these."""
    purchase = {"currency": "TFT", "farm_id": 1, "cu": 1, "su": 1, "days": 1}
    bought = api.session.post(f"{api.proxy}/api/pools", json=purchase)
    assert bought.status_code == 201, bought.text
    pool = bought.json()["pool"]["id"]
    _until(lambda: api.session.get(f"{api.proxy}/api/pools/{pool}").json()["pool"]["state"] == "active")
    flows = [entry["type"] for entry in api.session.get(f"{api.proxy}/api/chatflows").json()["chatflows"]]
    sessions, solutions = [], []
    for flow in flows:
        for walk in (False, True):
            started = api.session.post(f"{api.proxy}/api/chatflows/{flow}")
            assert started.status_code == 201, (flow, started.text)
            sessions.append(started.json()["id"])
            # Only the network is deployed: the one solution the others need first, and quick on the emulator.
            if walk and (solution := _walk(api, started.json(), submit=flow == "network")):
                solutions.append(solution)
    assert solutions, "the network wizard did not deploy"
    api.real = {"flow_type": flows, "session_id": sessions, "pool_id": [pool], "solution_id": solutions}


def _until(done: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


def _plausible(field: dict[str, Any]) -> Any:
    """The field's default, else a value of its kind a person would give (None: leave it out)."""
    if field.get("default") is not None:
        return field["default"]
    choices = [c["value"] for c in field.get("choices", [])]
    return {
        "string": "fuzz" + uuid.uuid4().hex[:6],
        "integer": field.get("min", 1),
        "text": "fuzz",
        "choice": choices[0] if choices else None,
        "dropdown": choices[0] if choices else None,
        "multi_choice": choices[: max(1, field.get("min_items", 1))] or None,
    }.get(field["kind"])


def _walk(api: Api, view: dict[str, Any], submit: bool) -> str | None:
    """Answer each step plausibly until one is refused, the confirmation step (answered when ``submit``) or the
    end; the id of the solution submitted, if any."""
    for _ in range(15):
        if view["status"] != "active" or (view["step"]["final"] and not submit):
            break
        answers = {f["name"]: value for f in view["step"]["fields"] if (value := _plausible(f)) is not None}
        moved = api.session.post(f"{api.proxy}/api/chatflows/sessions/{view['id']}/answer", json={"answers": answers})
        assert moved.status_code < 500, moved.text
        if moved.status_code != 200:
            break
        view = moved.json()
    print(f"{view['type']}: step {view['step']['index']} ({view['step']['name']}), {view['status']}")
    return view["solution_id"]


def _merged(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """The five documents as one (each path belongs to one service; shared component names must agree)."""
    merged: dict[str, Any] = {"openapi": "3.1.0", "info": {"title": "Marketplace", "version": "1"}, "paths": {},
                              "components": {"schemas": {}}}  # fmt: skip
    for document in documents:
        assert not set(document["paths"]) & set(merged["paths"]), "two services document the same path"
        merged["paths"].update(document["paths"])
        for kind, components in document["components"].items():
            for name, schema in components.items():
                known = merged["components"].setdefault(kind, {}).setdefault(name, schema)
                assert known == schema, f"component {name} differs between two services"
    return merged


def _documents(api: Api) -> dict[str, Any]:
    documents = []
    for prefix in PREFIXES:
        # Public: no session needed through Caddy.
        response = requests.get(f"{api.proxy}{prefix}/openapi.json", timeout=10)
        assert response.status_code == 200, (prefix, response.text)
        documents.append(response.json())
    return _merged(documents)


def _schema(api: Api) -> Any:
    """The documents for schemathesis, without their session scheme: the test sends its own signed-in session with
    every request (schemathesis would otherwise spend examples on made-up cookies the real one overrides)."""
    document = _documents(api)
    del document["components"]["securitySchemes"]
    for operations in document["paths"].values():
        for op in operations.values():
            del op["security"]
    return schemathesis.openapi.from_dict(document)


def standard_error_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx is the standard error shape: ``{"message", "errors": [{"code", "field", "description"}],
    "request_id"}``, as JSON."""
    if not 400 <= response.status_code < 500:
        return None
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), response.headers
    body = json.loads(response.content)
    assert isinstance(body, dict) and set(body) == STANDARD_ERROR_KEYS, body
    assert isinstance(body["message"], str) and body["message"], body
    assert body["errors"] and all(set(e) == {"code", "field", "description"} for e in body["errors"]), body
    return True


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          standard_error_shape]  # fmt: skip


JSON = st.recursive(
    # Python's JSON (and so Flask's) reads NaN and Infinity too: they are input like any other.
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _answers_for(api: Api, session_id: str) -> st.SearchStrategy[dict[str, Any]]:
    """Answers to the session's current step: its own field names (any subset), each with any JSON value — the
    wizard's validators see every type where they expect one."""
    step = api.session.get(f"{api.proxy}/api/chatflows/sessions/{session_id}").json().get("step", {})
    names = [f["name"] for f in step.get("fields", [])]
    return st.dictionaries(st.sampled_from(names), JSON, max_size=len(names)) if names else st.just({})


def _exercise(api: Api, operation: Any, mode: GenerationMode) -> None:
    """``EXAMPLES`` generated requests to one operation (derandomized: the same ones every run), each checked."""
    label = f"{operation.method.upper()} {operation.path}"
    # Signing out ends the session it is sent with: give it one of its own.
    signs_out = operation.path == "/auth/logout"

    names = [p.name for p in operation.path_parameters if p.name in api.real]

    @given(case=operation.as_strategy(generation_mode=mode),
           real=st.one_of(st.none(), *(st.sampled_from(api.real[name]) for name in names)), data=st.data())  # fmt: skip
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def run(case: Any, real: Any, data: st.DataObject) -> None:
        if real is not None:
            case.path_parameters = {**(case.path_parameters or {}), names[0]: real}
            if operation.path.endswith("/answer") and mode == GenerationMode.POSITIVE:
                case.body = {"answers": data.draw(_answers_for(api, real))}
        session = api.sign_in() if signs_out else api.session
        response = case.call(base_url=api.proxy, session=session, headers={"Origin": api.proxy},
                             allow_redirects=False, timeout=30)  # fmt: skip
        api.examples[label] += 1
        api.statuses[response.status_code] += 1
        api.by_operation[(label, response.status_code)] += 1
        if response.status_code >= 500:
            api.server_errors.append(f"{label} → {response.status_code}")
        case.validate_response(response, checks=CHECKS)

    run()


@pytest.mark.stack
@pytest.mark.timeout(600)
def test_no_input_breaks_the_api(api: Api) -> None:
    schema = _schema(api)
    failures = []
    # Deletions and signing out last: until then the real objects stay there to be addressed.
    operations = sorted((result.ok() for result in schema.get_all_operations()),
                        key=lambda op: (op.method == "delete" or op.path == "/auth/logout"))  # fmt: skip
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _exercise(api, operation, mode)
            except Unsatisfiable:  # nothing to get wrong: no parameters, no body (negative mode only)
                assert mode == GenerationMode.NEGATIVE, operation.path
            except (Exception, BaseExceptionGroup) as exc:  # every operation runs; all failures are reported
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {exc}")
    assert len(api.examples) == sum(len(d) for d in schema.raw_schema["paths"].values())
    assert not failures, "\n\n".join(failures)


@pytest.mark.stack
@pytest.mark.parametrize(
    ("prefix", "path", "headers", "status"),
    [
        ("/api/chatflows", "/" + "a" * 5000, {}, 414),  # the request line is longer than gunicorn reads
        ("/auth", "/me", {"X-Filler": "x" * 9000}, 431),  # a header longer than gunicorn reads
        ("/api/pools", "", {"Cookie": f"mp_session=x; filler={'y' * 9000}"}, 431),
    ],
)
def test_a_request_too_long_for_a_service_is_refused_in_the_standard_shape(
    api: Api, prefix: str, path: str, headers: dict[str, str], status: int
) -> None:
    """Found by probing past the generated cases: gunicorn refuses these itself with an HTML page; Caddy answers
    them in the standard shape instead (proxy/Caddyfile, ``upstream``)."""
    response = api.session.get(f"{api.proxy}{prefix}{path}", headers=headers, timeout=10)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json", response.headers
    body = response.json()
    assert set(body) == STANDARD_ERROR_KEYS and body["errors"][0]["code"] == "too_long", body
    assert body["request_id"] == response.headers["X-Request-Id"]


def _filled(path: str, real: dict[str, list[Any]]) -> str:
    """``path`` with each parameter set to a real object's id (an unknown solution's where none is real)."""
    ids = {**{name: values[0] for name, values in real.items()}, "solution_id": "0" * 8 + "-0000-0000-0000-" + "0" * 12}
    return re.sub(r"{(\w+)}", lambda m: str(ids[m.group(1)]), path)


@pytest.mark.stack
def test_every_operation_that_needs_a_session_refuses_a_caller_without_one(api: Api) -> None:
    """The documents say which operations need the session cookie (``security``); each of them, called with no
    cookie at all, is a 401 in the standard shape — from Caddy's forward_auth or from the service — and no public
    one is."""
    document = _documents(api)
    assert set(document["components"]["securitySchemes"]) == {"session"}
    private = 0
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            response = requests.request(method, f"{api.proxy}{_filled(path, api.real)}", json={}, timeout=10,
                                        headers={"Origin": api.proxy}, allow_redirects=False)  # fmt: skip
            if op["security"]:
                private += 1
                assert response.status_code == 401, (method, path, response.status_code, response.text)
                assert set(response.json()) == STANDARD_ERROR_KEYS
            else:
                assert response.status_code != 401, (method, path, response.text)
    assert private == 24
