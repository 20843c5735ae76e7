"""Each service's OpenAPI document is generated from its routes and the pydantic models its views use
(services/common/openapi.py): every route under the prefix is in it, with its models; an undocumented route is an
error, not a silent gap. The documents are exercised through Caddy by tests/integration/stack/test_api_fuzz.py."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from flask import Flask, jsonify
from pydantic import BaseModel, Field

from services.common.openapi import Empty, build_spec, operation
from services.common.settings import Settings
from services.common.web import create_service_app

SERVICES = {"auth": "/auth", "chatflow": "/api/chatflows", "deployer": "/api/solutions", "pools": "/api/pools",
            "backup": "/api/backup"}  # fmt: skip


class Order(BaseModel):
    """An order to place."""

    size: int = Field(ge=1, le=10)
    note: str | None = None


class Placed(BaseModel):
    """The order as placed."""

    id: int
    order: Order


class Filter(BaseModel):
    colour: str | None = Field(None, description="only this colour")


def _toy(settings: Settings) -> Flask:
    app = create_service_app("pools", "/api/pools", settings, check_schema=False)

    @app.post("/api/pools/orders/<int:order_id>")
    @operation("Place an order", {201: Placed}, body=Order, query=Filter)
    def place(order_id: int) -> Any:
        return jsonify(id=order_id), 201

    @app.delete("/api/pools/orders/<name>")
    @operation("Drop an order", {204: Empty("dropped")})
    def drop(name: str) -> Any:
        return "", 204

    return app


def test_the_document_is_built_from_the_routes_and_the_models(settings: Settings) -> None:
    document = _toy(settings).test_client().get("/api/pools/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    place = document["paths"]["/api/pools/orders/{order_id}"]["post"]
    assert place["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Order"}
    assert place["parameters"][0] == {"name": "order_id", "in": "path", "required": True,
                                      "schema": {"type": "integer", "minimum": 0}}  # fmt: skip
    assert place["parameters"][1]["name"] == "colour" and place["parameters"][1]["in"] == "query"
    assert place["responses"]["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Placed"}
    # Every operation may answer the standard error shape.
    error = {"$ref": "#/components/schemas/ErrorBody"}
    assert place["responses"]["4XX"]["content"]["application/json"]["schema"] == error
    schemas = document["components"]["schemas"]
    assert schemas["Order"]["properties"]["size"] == {"maximum": 10, "minimum": 1, "title": "Size", "type": "integer"}
    assert schemas["ErrorBody"]["required"] == ["message", "errors", "request_id"]
    drop = document["paths"]["/api/pools/orders/{name}"]["delete"]
    assert drop["parameters"][0]["schema"] == {"type": "string"} and "content" not in drop["responses"]["204"]
    # Health, readiness and the document itself are routes of the prefix too.
    assert {"/api/pools/healthz", "/api/pools/readyz", "/api/pools/openapi.json"} <= set(document["paths"])


def test_a_route_without_a_description_is_an_error(settings: Settings) -> None:
    app = _toy(settings)
    app.add_url_rule("/api/pools/secret", "secret", lambda: "", methods=["GET"])
    with pytest.raises(LookupError, match="/api/pools/secret"):
        build_spec(app, "pools", "/api/pools")


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_of_every_service_is_documented(service: str, settings: Settings, migrated_database: str) -> None:
    app = importlib.import_module(f"services.{service}.app").create_app(settings)
    prefix = SERVICES[service]
    document = app.test_client().get(f"{prefix}/openapi.json").get_json()
    served = {
        (rule.rule.replace("<int:", "<").replace("<", "{").replace(">", "}"), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(prefix)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert documented == served
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            assert op["summary"] and "4XX" in op["responses"], (path, method)
            if method in ("post", "put", "patch") and "requestBody" in op:
                assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].startswith(
                    "#/components/schemas/"
                )
