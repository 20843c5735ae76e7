"""``docker compose up``, actually run (issue 17): deploy/docker-compose.yml's dev profile on this machine's
engine, exercised from the host through Caddy's published port alone.

In order, on one stack: every service healthy, every container a non-root user, only the proxy published; the
smoke test (sign in through the login emulator, accept the terms, buy and pay a pool, deploy an Ubuntu through the
wizards' API, see it deployed, delete it); ``--scale deployer-worker=3`` and deployments spread over the three
(the workers' own logs); one worker SIGKILLed in the middle of a deployment, which still converges; ``stop``
shuts the workers down warm; ``down -v`` leaves nothing of the project behind.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections import Counter

import pytest
import requests

from tests.compose.stack import PROJECT, PROXY_PORT, Compose
from tests.compose.wizard import User, network_answers, ubuntu_answers, until

pytestmark = [pytest.mark.compose, pytest.mark.timeout(900)]

PREFIXES = ("/auth", "/api/chatflows", "/api/solutions", "/api/pools", "/api/backup")
DEPLOY_TIMEOUT = 180.0
SCALED = 3  # deployments per user (three users: the wizards allow 60 answers a minute per user)
USERS = ("alice.3bot", "bob.3bot", "carol.3bot")  # the login emulator's test users
# A worker's log line for each task it finished; submit_solution's result names the solution.
SUBMITTED = re.compile(r"Task deployer\.submit_solution\[[^\]]+\] succeeded .*'solution_id': '([0-9a-f-]{36})'")
DEPLOYMENT_TASK = re.compile(r"Task deployer\.(submit_solution|advance_solution)\[([^\]]+)\] (received|succeeded)")


def _user(stack: Compose, user: str = "alice.3bot") -> User:
    signed_in = User(stack.proxy, stack.connect, user)
    signed_in.accept_terms()
    return signed_in


def test_the_dev_profile_is_healthy_runs_as_non_root_and_publishes_only_the_proxy(stack: Compose) -> None:
    running = {c["Name"]: c for c in stack.containers(running=True)}
    services = {stack.inspect(name)["Config"]["Labels"]["com.docker.compose.service"] for name in running}
    assert services == set(stack.services) - {"migrate"}, services
    migrate = stack.inspect(stack.names("migrate")[0])["State"]
    assert migrate["Status"] == "exited" and migrate["ExitCode"] == 0, migrate
    published = set()
    for name, container in running.items():
        assert stack.exec(name, "id", "-u").strip() != "0", f"{name} runs as root"
        if any(p.get("host_port") or p.get("PublicPort") for p in container.get("Ports") or []):
            published.add(stack.inspect(name)["Config"]["Labels"]["com.docker.compose.service"])
    assert published == {"proxy"}, published
    for prefix in PREFIXES:
        for probe in ("healthz", "readyz"):
            answer = requests.get(f"{stack.proxy}{prefix}/{probe}", timeout=10)
            assert answer.status_code == 200, (prefix, probe, answer.text)
        assert answer.json()["checks"] == {"postgres": "ok", "redis": "ok"}


def test_smoke_sign_in_buy_a_pool_deploy_an_ubuntu_and_delete_it(stack: Compose) -> None:
    alice = _user(stack)
    assert alice.get("/auth/me").json()["username"] == "alice.3bot"
    pool = alice.buy_pool()
    assert alice.get("/api/solutions?type=network").json()["solutions"] == []
    network = alice.walk("network", network_answers("net", pool))
    assert alice.settled(network, DEPLOY_TIMEOUT) == "deployed"
    ubuntu = alice.walk("ubuntu", ubuntu_answers("smoke", pool, "net"))
    assert alice.settled(ubuntu, DEPLOY_TIMEOUT) == "deployed"
    listed = alice.get("/api/solutions?type=ubuntu").json()
    assert [s["id"] for s in listed["solutions"]] == [ubuntu], listed
    assert alice.solution(ubuntu)["workloads"], "a deployed Ubuntu has its container workload"
    deleted = alice.http.delete(f"{stack.proxy}/api/solutions/{ubuntu}", timeout=30)
    assert deleted.status_code == 202, deleted.text
    assert alice.settled(ubuntu, DEPLOY_TIMEOUT) == "cancelled"
    assert alice.get("/api/solutions?type=ubuntu").json()["solutions"] == []


def _deployment_tasks(stack: Compose) -> dict[str, Counter[str]]:
    """Per deployer worker container: the deployment tasks (submit, advance) it finished, by task name."""
    done: dict[str, Counter[str]] = {}
    for name in stack.names("deployer-worker"):
        done[name] = Counter(m[0] for m in DEPLOYMENT_TASK.findall(stack.log(name)) if m[2] == "succeeded")
    return done


def test_scaled_to_three_deployer_workers_deployments_spread_over_the_three(stack: Compose) -> None:
    before = _deployment_tasks(stack)
    stack.up("deployer-worker", scale="deployer-worker=3")
    workers = stack.names("deployer-worker")
    assert len(workers) == 3 and all(stack.inspect(w)["State"]["Status"] == "running" for w in workers), workers
    users = [_user(stack, name) for name in USERS]
    pools = [user.ready() for user in users]
    ids = {user.walk("ubuntu", ubuntu_answers(f"spread{i}", pool, "net")): user
           for i in range(SCALED) for user, pool in zip(users, pools, strict=True)}  # fmt: skip
    assert [user.settled(i, DEPLOY_TIMEOUT) for i, user in ids.items()] == ["deployed"] * len(ids)
    after = _deployment_tasks(stack)
    ran = {w: after[w] - before.get(w, Counter()) for w in workers}
    submitted = {w: set(SUBMITTED.findall(stack.log(w))) & set(ids) for w in workers}
    print(f"\ndeployment tasks per worker: {json.dumps({w: dict(c) for w, c in ran.items()})}")
    print(f"submissions per worker: {json.dumps({w: len(s) for w, s in submitted.items()})}")
    # Every submission is in exactly one worker's log, and each of the three did part of the work.
    assert sorted(i for s in submitted.values() for i in s) == sorted(ids)
    assert all(sum(c.values()) > 0 for c in ran.values()), ran


def _set_grid(stack: Compose, **config: float) -> None:
    """The grid emulator's runtime settings, from inside its container (it is not published)."""
    body = json.dumps(config)
    stack.exec(stack.names("grid-emulator")[0], "python", "-c",
               "import sys, urllib.request; urllib.request.urlopen(urllib.request.Request("
               "'http://127.0.0.1:8000/_emulator/config', data=sys.argv[1].encode(), "
               "headers={'Content-Type': 'application/json'}), timeout=10)", body)  # fmt: skip


def _advances(stack: Compose) -> dict[str, tuple[set[str], set[str]]]:
    """Per deployer worker container: the advance_solution tasks it received, and those it finished."""
    seen: dict[str, tuple[set[str], set[str]]] = {}
    for name in stack.names("deployer-worker"):
        received: set[str] = set()
        finished: set[str] = set()
        for task, task_id, what in DEPLOYMENT_TASK.findall(stack.log(name)):
            if task == "advance_solution":
                (received if what == "received" else finished).add(task_id)
        seen[name] = (received, finished)
    return seen


def _running_advance(stack: Compose, earlier: set[str]) -> str | None:
    """A deployer worker container in the middle of an advance_solution task that came after ``earlier``."""
    for name, (received, finished) in _advances(stack).items():
        if received - finished - earlier:
            return name
    return None


def test_a_worker_killed_mid_deployment_and_the_deployment_still_converges(stack: Compose) -> None:
    carol = _user(stack, "carol.3bot")
    pool = carol.ready()
    _set_grid(stack, extra_latency=2.0)  # every explorer call takes 2 s: a deployment pass lasts a while
    try:
        earlier = {task for received, _ in _advances(stack).values() for task in received}
        solution = carol.walk("ubuntu", ubuntu_answers("survivor", pool, "net"))
        victim = until(lambda: _running_advance(stack, earlier), 60, "a worker running the deployment", step=0.2)
        stack.engine("kill", "--signal", "KILL", victim)
        killed_at = time.monotonic()
        # Killed in the middle: the deployment was still on its way up.
        assert carol.solution(solution)["status"] in ("submitted", "planning", "deploying")
        print(f"\nSIGKILLed {victim} in the middle of deploying {solution}")
        assert carol.settled(solution, DEPLOY_TIMEOUT) == "deployed"
        print(f"converged {time.monotonic() - killed_at:.0f} s after the kill")
    finally:
        _set_grid(stack, extra_latency=0.0)


def test_stop_shuts_every_worker_down_warm(stack: Compose) -> None:
    """``stop`` sends SIGTERM: each Celery worker (PID 1 of its container) finishes and exits 0 within its grace
    period, not killed (137)."""
    for service in ("chatflow-worker", "deployer-worker", "pools-worker", "backup-worker"):
        # A running one: the deployer worker SIGKILLed before stays down (`kill` counts as stopped by hand).
        name = sorted(c["Name"] for c in stack.containers(service, running=True))[0]
        started = time.monotonic()
        stack.engine("stop", "--time", "60", name)
        state = stack.inspect(name)["State"]
        assert state["ExitCode"] == 0, (name, state)
        assert "Warm shutdown" in stack.log(name), name
        print(f"{name} stopped in {time.monotonic() - started:.1f} s")


def test_down_leaves_nothing_running(stack: Compose) -> None:
    stack.save_logs()
    stack.down()
    assert stack.containers() == []
    volumes = stack.engine("volume", "ls", "--format", "{{.Name}}").stdout.split()
    assert [v for v in volumes if v.startswith(PROJECT)] == [], volumes
    networks = stack.engine("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert [n for n in networks if n.startswith(PROJECT)] == [], networks
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", PROXY_PORT)) != 0, "the proxy's port still answers"
