"""Platform overheads: a task round trip through Celery, and a request through Caddy.

* Celery: ``pools.ping`` sent by name, run by a real pools worker, result read back — versus the floor, one
  Redis LPUSH + BRPOP round trip on the same server (the transport alone).
* Proxy: ``GET /api/pools/healthz`` through Caddy → gunicorn — versus the floor, the same request straight to
  gunicorn.
"""

from __future__ import annotations

import time
import uuid

import redis
import requests

from bench.harness import PYTHON, bench_env, free_port, http_ok, measure, process, report
from deploy.role import proxy_env
from services.common import contracts
from services.common.migrations import migrate
from services.common.settings import load_settings
from services.common.tasks import make_celery, send


def celery_round_trip(n: int = 300) -> str:
    env = bench_env(WORKER_CONCURRENCY="1")
    settings = load_settings(env)
    client = make_celery(settings)
    started = {"ok": False}

    def worker_ready() -> bool:
        if not started["ok"]:
            try:
                send(client, contracts.POOLS_PING, contracts.Ping()).get(timeout=1)
                started["ok"] = True
            except Exception:
                return False
        return True

    with process([PYTHON, "-m", "deploy.role", "pools-worker"], env, worker_ready):
        ours = measure(
            "celery pools.ping round trip",
            n,
            lambda: send(client, contracts.POOLS_PING, contracts.Ping()).get(timeout=10),
        )
    r = redis.Redis.from_url(settings.redis_url)
    key = f"bench:{uuid.uuid4().hex}"

    def floor_step() -> None:
        r.lpush(key, b"x")
        r.brpop([key], timeout=1)

    floor = measure("redis LPUSH+BRPOP (floor)", n, floor_step)
    return report("Task round trip through a real Celery worker", ours, floor)


def proxy_round_trip(n: int = 500) -> str:
    pools_port, proxy_port = free_port(), free_port()
    env = bench_env(POOLS_PORT=str(pools_port), PROXY_PORT=str(proxy_port), WEB_CONCURRENCY="1",
                    AUTH_PORT="9", CHATFLOW_PORT="9", DEPLOYER_PORT="9", BACKUP_PORT="9")  # fmt: skip
    env.update(proxy_env(env))
    env["XDG_DATA_HOME"] = env["LOCAL_DIR"]
    migrate(env["DATABASE_URL"], ("pools",))
    direct = f"http://127.0.0.1:{pools_port}/api/pools/healthz"
    proxied = f"http://127.0.0.1:{proxy_port}/api/pools/healthz"
    session = requests.Session()
    with process([PYTHON, "-m", "deploy.role", "pools-web"], env, http_ok(direct)), \
         process([PYTHON, "-m", "deploy.role", "proxy"], env, http_ok(proxied)):  # fmt: skip
        time.sleep(0.5)
        ours = measure("GET /api/pools/healthz via Caddy", n, lambda: session.get(proxied, timeout=5))
        floor = measure("same, straight to gunicorn (floor)", n, lambda: session.get(direct, timeout=5))
    return report("Request through Caddy", ours, floor)


RUNS = (celery_round_trip, proxy_round_trip)


def run() -> list[str]:
    return [bench() for bench in RUNS]
