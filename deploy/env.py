"""``python -m deploy.env FILE -- COMMAND…``: run COMMAND with FILE's variables added (the environment wins)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from deploy.run_local import load_env_file


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        raise SystemExit("usage: python -m deploy.env FILE -- COMMAND [ARGS…]")
    env = dict(os.environ)
    load_env_file(Path(argv[0]), env)
    program = shutil.which(argv[2], path=env.get("PATH")) or argv[2]
    os.execve(program, argv[2:], env)  # noqa: S606 — a fixed program chosen by the Makefile


if __name__ == "__main__":
    main(sys.argv[1:])
