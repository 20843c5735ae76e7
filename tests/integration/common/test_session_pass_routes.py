"""A session pass lets an API call skip Caddy's forward_auth (issue 16), so every protected operation of every
service must check the caller itself: called directly with a pass that is forged, expired or signed by another
key, and without forward_auth's headers, each answers 401 — none does its work first."""

from __future__ import annotations

import importlib
import re
import time
from typing import Any

import pytest

from services.common import assertion
from services.common.assertion import User
from services.common.identity import Identity
from services.common.settings import Settings

# backup-web has only server-to-server operations (public; their own checks are in tests/integration/backup).
SERVICES = {"chatflow": "/api/chatflows", "deployer": "/api/solutions", "pools": "/api/pools"}
STRANGER = Identity(bytes(range(0x40, 0x60)))  # not the auth service's key
ALICE = User("alice.3bot", "alice@example.com", "1")


def _protected_operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method, re.sub(r"\{[^}]+\}", "1", path))
        for path, ops in document["paths"].items()
        for method, op in ops.items()
        if op.get("security") != []
    ]


def _passes(settings: Settings, auth_key: Identity) -> dict[str, str]:
    return {
        "forged": "eyJzdWIiOiJhbGljZS4zYm90In0.AAAA",
        "foreign": assertion.issue(STRANGER, ALICE, ttl=60),
        "expired": assertion.issue(auth_key, ALICE, ttl=60, now=time.time() - 120),
    }


@pytest.mark.parametrize("service", SERVICES)
def test_every_protected_operation_refuses_a_bad_pass(service: str, settings: Settings, migrated_database: str) -> None:
    app = importlib.import_module(f"services.{service}.app").create_app(settings)
    client = app.test_client()
    auth_key = Identity(bytes(range(0xA0, 0xC0)))
    app.extensions["marketplace"]._auth_key = auth_key.verify_key
    document = client.get(f"{SERVICES[service]}/openapi.json").get_json()
    operations = _protected_operations(document)
    assert len(operations) >= 3, operations  # the audit covers something
    name = assertion.pass_cookie(settings)
    for kind, token in _passes(settings, auth_key).items():
        for method, path in operations:
            client.set_cookie(name, token)  # the previous answer deleted it
            answer = client.open(path, method=method.upper(), json={}, headers={"Origin": "http://localhost:8080"})
            assert answer.status_code == 401, (kind, method, path, answer.status_code, answer.get_data(as_text=True))
            assert any(h.startswith(f"{name}=;") for h in answer.headers.getlist("Set-Cookie")), (kind, path)
    app.extensions["marketplace"].close()
