"""deploy/frontend_build.py: the served copy of the frontend, its scripts under a content-hashed path."""

from __future__ import annotations

from pathlib import Path

from deploy.frontend_build import asset_version, build


def _source(tmp: Path) -> Path:
    source = tmp / "frontend"
    (source / "icons").mkdir(parents=True)
    (source / "index.html").write_text('<link rel="stylesheet" href="/style.css">\n<script src="/app.js"></script>\n'
                                       '<a href="/pools.html">Pools</a> <img src="/icons/a.svg">\n')  # fmt: skip
    (source / "app.js").write_text("console.log(1);\n")
    (source / "style.css").write_text("body {}\n")
    (source / "icons" / "a.svg").write_text("<svg/>")
    return source


def test_pages_name_scripts_and_styles_by_version_and_the_source_is_untouched(tmp_path: Path) -> None:
    source = _source(tmp_path)
    original = (source / "index.html").read_text()
    served, version = build(source, tmp_path / "out")
    assert served == tmp_path / "out" / version and len(version) == 16
    assert (served / "index.html").read_text() == (
        f'<link rel="stylesheet" href="/s/{version}/style.css">\n<script src="/s/{version}/app.js"></script>\n'
        '<a href="/pools.html">Pools</a> <img src="/icons/a.svg">\n'
    )  # links to pages and icons keep their names
    assert (served / "app.js").read_text() == "console.log(1);\n"
    assert (source / "index.html").read_text() == original


def test_the_version_follows_the_assets_not_the_pages(tmp_path: Path) -> None:
    source = _source(tmp_path)
    first = asset_version(source)
    (source / "index.html").write_text("<p>changed page</p>")
    assert asset_version(source) == first
    (source / "app.js").write_text("console.log(2);\n")
    second = asset_version(source)
    assert second != first
    (source / "icons" / "a.svg").write_text("<svg></svg>")
    assert asset_version(source) != second


def test_a_new_version_replaces_the_old_build(tmp_path: Path) -> None:
    source = _source(tmp_path)
    old, _ = build(source, tmp_path / "out")
    assert build(source, tmp_path / "out")[0] == old  # built once per version
    (source / "app.js").write_text("console.log(3);\n")
    new, version = build(source, tmp_path / "out")
    assert new != old and not old.exists() and [p.name for p in (tmp_path / "out").iterdir()] == [version]
