"""The frontend as Caddy serves it: the scripts and the style sheet under a content-hashed path.

``frontend/`` is copied to ``<LOCAL_DIR>/frontend/<version>/`` with every page's ``src="/x.js"`` and
``href="/x.css"`` rewritten to ``/s/<version>/x.js``, where ``<version>`` is a hash of every file but the pages.
Caddy serves ``/s/<version>/*`` with ``Cache-Control: public, max-age=31536000, immutable``: a browser asks for a
script once per version; a changed file changes the version, so the pages (revalidated on every visit) name the new
paths. The modules' relative imports (``./api.js``) resolve under the same versioned path. Icons and the unversioned
names stay servable, revalidated by ETag (``no-cache``). The source tree is never changed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

ASSET = re.compile(r'\b(src|href)="/([A-Za-z0-9_-]+\.(?:js|css))"')
PREFIX = "/s"


def asset_version(source: Path) -> str:
    """A hash of every file of ``source`` but the pages (their names and contents): 16 hex characters."""
    digest = hashlib.sha256()
    for path in sorted(p for p in source.rglob("*") if p.is_file() and p.suffix != ".html"):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def versioned_page(html: str, version: str) -> str:
    return ASSET.sub(rf'\1="{PREFIX}/{version}/\2"', html)


def build(source: Path, into: Path) -> tuple[Path, str]:
    """(the directory Caddy serves, the asset version): built once per version, older builds removed."""
    version = asset_version(source)
    target = into / version
    into.mkdir(parents=True, exist_ok=True)
    if not target.is_dir():
        staging = into / f".{version}.{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(source, staging)
        for page in staging.glob("*.html"):
            page.write_text(versioned_page(page.read_text(), version))
        try:
            staging.rename(target)
        except OSError:  # another proxy finished the same build first
            shutil.rmtree(staging, ignore_errors=True)
    for old in into.iterdir():
        if old.name != version and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)
    return target, version
