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
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
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
EXAMPLES = 20  # generated examples per operation and mode: valid input (positive), and input the schema refuses
USER = "carol.3bot"
STANDARD_ERROR_KEYS = {"message", "errors", "request_id"}


@dataclass
class Api:
    proxy: str
    connect: str
    session: requests.Session
    examples: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)

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
        yield api
        print(f"\nstack logs: {stack['logs']}")
        print(f"schemathesis: {len(api.examples)} operations, {sum(api.examples.values())} requests, "
              f"{len(api.server_errors)} answers 5xx; by status: {dict(sorted(api.statuses.items()))}")  # fmt: skip
        for operation, count in sorted(api.examples.items()):
            print(f"  {count:5d}  {operation}")


def _merged(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """The five documents as one (each path belongs to one service; shared component names must agree)."""
    merged: dict[str, Any] = {"openapi": "3.1.0", "info": {"title": "Marketplace", "version": "1"}, "paths": {},
                              "components": {"schemas": {}}}  # fmt: skip
    for document in documents:
        assert not set(document["paths"]) & set(merged["paths"]), "two services document the same path"
        merged["paths"].update(document["paths"])
        for name, schema in document["components"]["schemas"].items():
            known = merged["components"]["schemas"].setdefault(name, schema)
            assert known == schema, f"component {name} differs between two services"
    return merged


def _schema(api: Api) -> Any:
    documents = []
    for prefix in PREFIXES:
        # Public: no session needed through Caddy.
        response = requests.get(f"{api.proxy}{prefix}/openapi.json", timeout=10)
        assert response.status_code == 200, (prefix, response.text)
        documents.append(response.json())
    return schemathesis.openapi.from_dict(_merged(documents))


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


def _exercise(api: Api, operation: Any, mode: GenerationMode) -> None:
    """``EXAMPLES`` generated requests to one operation (derandomized: the same ones every run), each checked."""
    label = f"{operation.method.upper()} {operation.path}"
    # Signing out ends the session it is sent with: give it one of its own.
    signs_out = operation.path == "/auth/logout"

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def run(case: Any) -> None:
        session = api.sign_in() if signs_out else api.session
        response = case.call(base_url=api.proxy, session=session, headers={"Origin": api.proxy},
                             allow_redirects=False, timeout=30)  # fmt: skip
        api.examples[label] += 1
        api.statuses[response.status_code] += 1
        if response.status_code >= 500:
            api.server_errors.append(f"{label} → {response.status_code}")
        case.validate_response(response, checks=CHECKS)

    run()


@pytest.mark.stack
@pytest.mark.timeout(600)
def test_no_input_breaks_the_api(api: Api) -> None:
    schema = _schema(api)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _exercise(api, operation, mode)
            except Unsatisfiable:  # nothing to get wrong: no parameters, no body (negative mode only)
                assert mode == GenerationMode.NEGATIVE, operation.path
            except (Exception, BaseExceptionGroup) as exc:  # every operation runs; all failures are reported
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {exc}")
    assert len(api.examples) == sum(len(d) for d in schema.raw_schema["paths"].values())
    assert not failures, "\n\n".join(failures)
