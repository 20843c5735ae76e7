"""``make lint``: ``caddy validate`` the Caddyfile for a dev and a production environment."""

from __future__ import annotations

import os
import subprocess
import sys

from deploy.role import ROOT, proxy_env
from deploy.run_local import load_env_file

PRODUCTION = {
    "MARKETPLACE_DOMAIN": "marketplace.example.org",
    "ACME_EMAIL": "ops@example.org",
    "TEST_CERT": "true",
}


def validate(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env, **proxy_env(env)}
    return subprocess.run(
        ["caddy", "validate", "--config", str(ROOT / "proxy" / "Caddyfile"), "--adapter", "caddyfile"],
        env=full,
        capture_output=True,
        text=True,
        check=False,
    )


def main() -> int:
    dev: dict[str, str] = {}
    load_env_file(ROOT / "dev.env", dev)
    compose = {**dev, "CONNECT_EMULATOR_UPSTREAM": "connect-emulator:8000", "AUTH_UPSTREAM": "auth-web:8000"}
    for name, env in (("dev", dev), ("production", {**dev, **PRODUCTION}), ("compose", compose)):
        result = validate(env)
        status = "valid" if result.returncode == 0 else "INVALID"
        print(f"Caddyfile ({name} environment): {status}")
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
