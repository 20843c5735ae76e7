"""Debian packages each command needs: ``python3 -m deploy.packages run|test``.

As root, installs what is missing (one ``apt-get install``); otherwise prints the single line to run and exits
non-zero. Standard library only: it runs before the virtual environment exists.
"""

from __future__ import annotations

import os
import subprocess
import sys

NEEDS = {
    # make run: the proxy, and the servers it falls back to when DATABASE_URL / REDIS_URL do not answer.
    "run": ("caddy", "postgresql", "redis-server", "python3-venv"),
    # make test: everything above plus the real parts the suite drives.
    "test": (
        "caddy",
        "postgresql",
        "redis-server",
        "python3-venv",
        "docker-compose",
        "openssh-server",
        "restic",
        "rclone",
        "apache2-utils",
        "pebble",
        "chromium",
        "bind9-dnsutils",  # dig: the tests ask the grid emulator's DNS as an outside client would
        "prometheus",  # promtool: the alert rules are checked and unit-tested (deploy/monitoring/)
    ),
    # make test-compose: the containers (podman; runc where crun refuses a hybrid cgroup hierarchy) and the local
    # Debian base image (debootstrap). podman-compose itself comes from PyPI (pyproject.toml): Debian's has no
    # profiles and no --scale.
    "compose": ("podman", "runc", "debootstrap", "python3-venv"),
}


def missing(packages: tuple[str, ...]) -> list[str]:
    result = []
    for package in packages:
        status = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
        ).stdout
        if "install ok installed" not in status:
            result.append(package)
    return result


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in NEEDS:
        print(f"usage: python3 -m deploy.packages {'|'.join(NEEDS)}", file=sys.stderr)
        return 2
    todo = missing(NEEDS[argv[0]])
    if not todo:
        return 0
    line = f"apt-get install -y {' '.join(todo)}"
    if os.geteuid() != 0:
        print(f"missing Debian packages; as root run:\n    {line}", file=sys.stderr)
        return 1
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", *todo], check=True, env=env)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
