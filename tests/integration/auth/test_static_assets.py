"""Static files through the real Caddy (issue 16): no session check, cached by the browser; pages keep theirs."""

from __future__ import annotations

import re

import requests

from deploy.frontend_build import asset_version
from tests.conftest import ROOT
from tests.integration.auth.conftest import Stack

FRONTEND = ROOT / "frontend"
IMMUTABLE = "public, max-age=31536000, immutable"


def test_pages_name_their_scripts_by_a_content_hashed_path_kept_a_year(stack: Stack) -> None:
    page = requests.get(f"{stack.proxy}/wizard.html", timeout=5, allow_redirects=False,
                        headers={"Accept": "text/html"})  # fmt: skip
    assert page.status_code == 302  # a page still needs a session (and sends to sign in)
    home = requests.get(f"{stack.proxy}/", timeout=5)
    assert home.headers["Cache-Control"] == "no-cache"
    version = asset_version(FRONTEND)
    assert re.findall(r'src="(/s/[0-9a-f]{16}/app\.js)"', home.text) == [f"/s/{version}/app.js"]
    assert f'href="/s/{version}/style.css"' in home.text
    for name in ("app.js", "wizard.js", "api.js", "style.css", "icons/ubuntu.svg"):  # no cookie: no session check
        asset = requests.get(f"{stack.proxy}/s/{version}/{name}", timeout=5)
        assert asset.status_code == 200, name
        assert asset.headers["Cache-Control"] == IMMUTABLE
        assert asset.content == (FRONTEND / name).read_bytes()
        assert asset.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert requests.get(f"{stack.proxy}/s/{'0' * 16}/app.js", timeout=5).status_code == 404  # another version


def test_icons_and_plain_names_are_public_and_revalidated_by_etag(stack: Stack) -> None:
    for path in ("/icons/ubuntu.svg", "/wizard.js", "/pools.js", "/style.css"):
        first = requests.get(f"{stack.proxy}{path}", timeout=5)
        assert first.status_code == 200, path
        assert first.headers["Cache-Control"] == "no-cache"
        etag = first.headers["ETag"]
        again = requests.get(f"{stack.proxy}{path}", headers={"If-None-Match": etag}, timeout=5)
        assert again.status_code == 304 and again.content == b"", path


def test_api_calls_still_need_a_session(stack: Stack) -> None:
    # The static exemptions are by file type: an API path that looks like a file is still checked.
    for path in ("/api/pools/whoami", "/api/pools/x.js", "/api/chatflows/sessions"):
        assert requests.get(f"{stack.proxy}{path}", timeout=5).status_code == 401, path
