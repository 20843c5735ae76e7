"""``python -m emulators.connect``: parse flags and environment, build the app, serve it with gunicorn."""

from __future__ import annotations

import os
import sys

from .app import create_app
from .cli import UsageError, exit_with_usage_error, parse_options
from .server import serve


def main(argv: list[str] | None = None) -> None:
    try:
        options = parse_options(sys.argv[1:] if argv is None else argv, os.environ)
    except UsageError as exc:
        exit_with_usage_error(exc)
    serve(create_app(options.config), options.host, options.port)


if __name__ == "__main__":
    main()
