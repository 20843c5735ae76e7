"""The public catalogue without its per-request cost (issue 16): built once per CATALOGUE_SECONDS per app,
revalidated by its ETag; a catalogue missing the deployer's apps is never kept."""

from __future__ import annotations

from flask import Flask

from services.chatflow.flows import FLOWS
from tests.integration.chatflow.conftest import ChatWorld


def test_a_browser_revalidates_the_catalogue_by_its_etag(chat: ChatWorld) -> None:
    client = chat.app.test_client()
    first = client.get("/api/chatflows")
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-cache"
    etag = first.headers["ETag"]
    assert len(first.json["chatflows"]) > len(FLOWS)  # the deployer's apps are in it
    assert chat.app.extensions["chatflow_catalogue"]._kept is not None  # complete: kept for CATALOGUE_SECONDS
    again = client.get("/api/chatflows", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    compressed = etag[:-1] + '-gzip"'  # the form Caddy gives the browser when it gzips the answer
    assert client.get("/api/chatflows", headers={"If-None-Match": f'"x", {compressed}'}).status_code == 304
    assert client.get("/api/chatflows", headers={"If-None-Match": '"other"'}).data == first.data


def test_a_catalogue_without_the_deployers_apps_is_not_kept(silent_app: Flask) -> None:
    partial = silent_app.test_client().get("/api/chatflows").json["chatflows"]
    assert [entry["type"] for entry in partial] == list(FLOWS)  # the advanced wizards still show
    # Asked again at the next request, not served without the apps for CATALOGUE_SECONDS.
    assert silent_app.extensions["chatflow_catalogue"]._kept is None
