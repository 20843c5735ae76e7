"""Login: complete 3Bot Connect protocol round trips through Caddy against the connect emulator.

One round trip = ``GET /auth/login?provider=3bot`` (state + redirect) → the emulated phone builds, encrypts and
signs the attempt → ``GET /auth/3bot_callback`` (provider key fetch, signature check, decryption, KYC call,
user upsert, session). The floor is the protocol's cryptography alone, in-process: the phone's box + signature
and the marketplace's signature check + box open + SEI check. The share of signature checks is the time the
marketplace spends in Ed25519 verification (attempt and SEI) relative to a full round trip.
"""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qs, urlsplit

import nacl.public
import nacl.signing
import requests

from bench.harness import PYTHON, Timing, bench_env, free_port, http_ok, measure, process
from services.common.migrations import migrate

USER_SEED = bytes(range(0x20, 0x40))
KYC_SEED = bytes(range(0x40, 0x60))


def _round_trip(proxy: str, connect: str) -> None:
    browser = requests.Session()
    start = browser.get(f"{proxy}/auth/login", params={"provider": "3bot", "next": "/"}, allow_redirects=False)
    params = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["Location"]).query).items()}
    attempt = requests.post(
        f"{connect}/_emulator/attempt",
        json={"user": "alice.3bot", **{k: params[k] for k in ("state", "appid", "publickey", "redirecturl")}},
        timeout=5,
    ).json()
    done = browser.get(attempt["callback_url"], allow_redirects=False)
    if done.status_code != 302 or "mp_session" not in browser.cookies:
        raise SystemExit(f"login failed during the benchmark: {done.status_code} {done.text[:200]}")


def _crypto_floor(n: int) -> tuple[Timing, Timing]:
    user = nacl.signing.SigningKey(USER_SEED)
    kyc = nacl.signing.SigningKey(KYC_SEED)
    marketplace = nacl.signing.SigningKey(bytes(32))
    sei = base64.b64encode(bytes(kyc.sign(b'{ "email": "alice@example.com", "identifier": "alice.3bot" }'))).decode()

    def phone_and_marketplace() -> None:
        box = nacl.public.Box(user.to_curve25519_private_key(), marketplace.verify_key.to_curve25519_public_key())
        sealed = box.encrypt(json.dumps({"email": {"email": "alice@example.com", "sei": sei}}).encode())
        signed = user.sign(json.dumps({"signedState": "s", "data": base64.b64encode(sealed).decode()}).encode())
        verify_only()
        nacl.public.Box(marketplace.to_curve25519_private_key(), user.verify_key.to_curve25519_public_key()).decrypt(
            sealed
        )
        del signed

    signed_attempt = user.sign(b'{"signedState": "s", "data": {}}' * 10)
    signed_sei = base64.b64decode(sei)

    def verify_only() -> None:
        user.verify_key.verify(signed_attempt)
        kyc.verify_key.verify(signed_sei)

    return (
        measure("protocol crypto in-process (floor)", n, phone_and_marketplace),
        measure("signature checks only (attempt + SEI)", n, verify_only),
    )


def run(n: int = 200) -> str:
    ports = {k: free_port() for k in ("PROXY_PORT", "AUTH_PORT", "CONNECT_EMULATOR_PORT")}
    connect = f"http://127.0.0.1:{ports['CONNECT_EMULATOR_PORT']}"
    env = bench_env(
        MARKETPLACE_DOMAIN=f"localhost:{ports['PROXY_PORT']}",
        THREEBOT_LOGIN_URL=connect,
        OPENKYC_URL=connect,
        LOGIN_RATE_LIMIT="10000",
        WEB_CONCURRENCY="2",
        APP_ENV="dev",
        CHATFLOW_PORT="9", DEPLOYER_PORT="9", POOLS_PORT="9", BACKUP_PORT="9",
        **{k: str(v) for k, v in ports.items()},
    )  # fmt: skip
    env["AUTH_SIGNING_SEED_FILE"] = env["LOCAL_DIR"] + "/auth.seed"
    migrate(env["DATABASE_URL"], ("auth",))
    proxy = f"http://localhost:{ports['PROXY_PORT']}"
    with (
        process([PYTHON, "-m", "deploy.role", "connect-emulator"], env, http_ok(f"{connect}/_emulator/healthz")),
        process(
            [PYTHON, "-m", "deploy.role", "auth-web"], env, http_ok(f"http://127.0.0.1:{ports['AUTH_PORT']}/healthz")
        ),
        process([PYTHON, "-m", "deploy.role", "proxy"], env, http_ok(f"{proxy}/auth/healthz")),
    ):
        time.sleep(0.5)
        ours = measure(
            "login round trip via Caddy (3 HTTP legs + provider + KYC)", n, lambda: _round_trip(proxy, connect)
        )
    floor, checks = _crypto_floor(n * 5)
    share = checks.p50_ms / ours.p50_ms * 100
    return "\n".join(
        [
            "## Login round trips (3Bot Connect, through Caddy, against the emulator)",
            "| measured | n | p50 ms | p99 ms | per s |",
            "|---|---|---|---|---|",
            *(
                f"| {t.name} | {t.count} | {t.p50_ms:.2f} | {t.p99_ms:.2f} | {t.per_second:.0f} |"
                for t in (ours, floor, checks)
            ),
            f"ratio (p50, round trip / crypto floor): {ours.p50_ms / floor.p50_ms:.1f}x; "
            f"signature checks are {share:.1f}% of a round trip",
        ]
    )
