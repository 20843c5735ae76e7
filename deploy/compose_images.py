"""The images of ``make test-compose``, built without any image registry: ``python -m deploy.compose_images``.

A Debian bookworm root file system made with ``debootstrap`` from Debian's mirror is imported as
``localhost/marketplace-base:bookworm`` (once: its tarball is kept under ``.local/compose/``); the PostgreSQL and
Redis stand-ins (``deploy/images/*.Dockerfile``) and the marketplace image (``deploy/Dockerfile``) are built on it.
The engine is Docker when a Docker engine answers, else podman; podman reads ``CONTAINERS_CONF`` from
``.local/compose/containers.conf`` (no default rlimits: this machine's runtime may not set them; runc: crun refuses
a hybrid cgroup hierarchy). Prints the variables deploy/docker-compose.yml then takes, one ``NAME=value`` a line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".local" / "compose"
MIRROR = "http://deb.debian.org/debian"
HOST_CA = "/etc/ssl/certs/ca-certificates.crt"
BASE = "localhost/marketplace-base:bookworm"
IMAGES = {
    "POSTGRES_IMAGE": ("localhost/marketplace-postgres:15", "deploy/images/postgres.Dockerfile"),
    "REDIS_IMAGE": ("localhost/marketplace-redis:7", "deploy/images/redis.Dockerfile"),
    "MARKETPLACE_IMAGE": ("localhost/marketplace:compose-test", "deploy/Dockerfile"),
}
CONTAINERS_CONF = """\
# make test-compose only (deploy/compose_images.py): never the system's configuration.
[containers]
# The runtime of this machine may not set rlimits: no default ulimits.
default_ulimits = []

[engine]
# crun refuses a hybrid (v1 + v2) cgroup hierarchy; runc runs there.
runtime = "runc"
"""


def engine() -> str:
    """``docker`` when a Docker engine answers, else ``podman``."""
    if shutil.which("docker") and subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0:
        return "docker"
    if shutil.which("podman"):
        return "podman"
    raise SystemExit("neither a Docker engine nor podman: apt-get install -y podman")


def engine_env() -> dict[str, str]:
    """The environment the engine and compose run with (podman: the test's own containers.conf)."""
    STATE.mkdir(parents=True, exist_ok=True)
    conf = STATE / "containers.conf"
    if not conf.exists() or conf.read_text() != CONTAINERS_CONF:
        conf.write_text(CONTAINERS_CONF)
    return {**os.environ, "CONTAINERS_CONF": str(conf)}


def _run(args: list[str], env: dict[str, str], **kwargs: object) -> None:
    print("+", " ".join(args), flush=True)
    subprocess.run(args, env=env, check=True, **kwargs)  # type: ignore[call-overload]


def _has_image(cli: str, image: str, env: dict[str, str]) -> bool:
    result = subprocess.run([cli, "image", "inspect", image], capture_output=True, env=env, check=False)
    return result.returncode == 0


def base_tarball(env: dict[str, str]) -> Path:
    """The Debian bookworm root file system as a tarball, made once with debootstrap."""
    tarball = STATE / "debian-bookworm.tar"
    if tarball.exists():
        return tarball
    rootfs = STATE / "rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    _run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), MIRROR], env)
    partial = tarball.with_suffix(".partial")
    _run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."], env)
    partial.rename(tarball)
    shutil.rmtree(rootfs)
    return tarball


def build(cli: str, env: dict[str, str]) -> dict[str, str]:
    """Import the base if missing and build the three images on it; the compose variables naming them."""
    if not _has_image(cli, BASE, env):
        tarball = base_tarball(env)
        _run([cli, "import", "--change", 'CMD ["/bin/bash"]', str(tarball), BASE], env)
    # Host networking: apt and pip reach Debian's mirror and PyPI the way this machine does, trusting its CAs.
    options = ["--network", "host", "--build-arg", f"BASE_IMAGE={BASE}"]
    if cli == "podman" and Path(HOST_CA).is_file():
        options += ["--volume", f"{HOST_CA}:/run/host-ca.crt:ro", "--build-arg", "PIP_CERT=/run/host-ca.crt"]
    for tag, dockerfile in IMAGES.values():
        _run([cli, "build", *options, "-f", dockerfile, "-t", tag, "."], env, cwd=ROOT)
    return {"BASE_IMAGE": BASE, **{name: tag for name, (tag, _) in IMAGES.items()}}


def main() -> None:
    started = time.monotonic()
    cli = engine()
    variables = build(cli, engine_env())
    print(f"images built with {cli} in {time.monotonic() - started:.0f} s", file=sys.stderr)
    for name, value in variables.items():
        print(f"{name}={value}")


if __name__ == "__main__":
    main()
