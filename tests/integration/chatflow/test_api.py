"""The chatflow JSON API (``services/chatflow/API.md``) against real workers, PostgreSQL and Redis: the catalogue,
the terms gate, other users' sessions, validation, navigation, taken names, secrets, a service that is down, and
the expiry of abandoned wizards."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from services.chatflow.flow import Flow, Step
from services.chatflow.flows import FLOWS
from services.chatflow.questions import Info, Secret, String
from services.common import contracts
from services.common.tasks import send
from tests.conftest import PYTHON, Processes
from tests.integration.chatflow.conftest import ChatWorld
from tests.integration.chatflow.test_ubuntu_wizard import ubuntu_answers, walk
from tests.integration.deployer.conftest import SSH_KEY, sql

SESSIONS = "/api/chatflows/sessions"
# No worker of any service consumes this Redis db: every question the wizard asks there goes unanswered.


def session_path(session: dict[str, Any], suffix: str = "") -> str:
    return f"{SESSIONS}/{session['id']}{suffix}"


def errors_of(response: Any) -> dict[str, str]:
    """``{field: code}`` of a standard error answer (asserting there is one entry per field)."""
    errors = response.json["errors"]
    assert len({e["field"] for e in errors}) == len(errors), errors
    return {e["field"]: e["code"] for e in errors}


def current(chat: ChatWorld, owner: str, session: dict[str, Any]) -> dict[str, Any]:
    response = chat.get(session_path(session), owner)
    assert response.status_code == 200, response.json
    return dict(response.json)


# -- catalogue and start -------------------------------------------------------------------------------------------


def test_the_catalogue_lists_every_wizard_to_anyone(chat: ChatWorld) -> None:
    # Public: no session needed (Caddy lets GET /api/chatflows through without forward_auth).
    response = chat.app.test_client().get("/api/chatflows")
    assert response.status_code == 200
    listed = response.json["chatflows"]
    advanced, apps = listed[: len(FLOWS)], listed[len(FLOWS) :]
    assert [entry["type"] for entry in advanced] == list(FLOWS)
    # Then one wizard per app definition of the deployer, each with its SVG icon.
    assert all(e["family"] == "apps" and re.fullmatch(r"/icons/[a-z0-9_-]+\.svg", e["icon"]) for e in apps)
    for entry, flow in zip(advanced, FLOWS.values(), strict=True):
        assert entry == {"type": flow.type, "title": flow.title, "description": flow.description,
                         "family": flow.family, "icon": flow.icon}  # fmt: skip
        assert entry["family"] in ("advanced", "apps")
        assert entry["title"] and entry["description"] and entry["icon"]


def test_starting_a_wizard_needs_the_current_terms_and_a_known_flow(chat: ChatWorld) -> None:
    owner = "amy.3bot"
    refused = chat.post("/api/chatflows/ubuntu", owner, terms=False)
    assert refused.status_code == 403
    assert refused.json["errors"][0]["code"]
    unknown = chat.post("/api/chatflows/no-such-wizard", owner)
    assert unknown.status_code == 404
    assert "no-such-wizard" in unknown.json["message"]
    assert chat.get(SESSIONS, owner).json["sessions"] == []  # neither refusal left a session behind

    session = chat.start(owner, "ubuntu")
    assert session["status"] == "active" and session["type"] == "ubuntu"
    assert session["step"]["index"] == 1 and session["step"]["can_back"] is False
    assert session["answers"] == {} and session["solution_id"] is None
    listed = chat.get(SESSIONS, owner).json["sessions"]
    assert [s["id"] for s in listed] == [session["id"]]


# -- other users ---------------------------------------------------------------------------------------------------


def test_another_users_session_is_not_found_and_left_alone(chat: ChatWorld) -> None:
    owner, other = "bea.3bot", "mallory.3bot"
    session = chat.start(owner, "ubuntu")
    chat.answer(owner, session, {"name": "mine"})
    before = current(chat, owner, session)

    assert chat.get(session_path(session), other).status_code == 404
    foreign_answer = {"answers": {"version": "ubuntu-18.04"}}
    assert chat.post(session_path(session, "/answer"), other, foreign_answer).status_code == 404
    assert chat.post(session_path(session, "/back"), other).status_code == 404
    assert chat.post(session_path(session, "/restart"), other).status_code == 404
    assert chat.delete(session_path(session), other).status_code == 404
    assert chat.get(SESSIONS, other).json["sessions"] == []

    after = current(chat, owner, session)
    assert after["step"] == before["step"] and after["answers"] == {"name": "mine"}


def test_a_malformed_session_id_is_not_found(chat: ChatWorld) -> None:
    assert chat.get(f"{SESSIONS}/not-a-session", "bea.3bot").status_code == 404
    # "$" of a regex matches before a trailing newline: such an id must not reach PostgreSQL's uuid cast.
    newline = chat.get(f"{SESSIONS}/0123456789abcdef0123456789abcdef%0A", "bea.3bot")
    assert newline.status_code == 404 and newline.json["errors"][0]["code"] == "not_found", newline.json
    assert chat.post(f"{SESSIONS}/1234/answer", "bea.3bot", {"answers": {}}).status_code == 404


# -- validation ----------------------------------------------------------------------------------------------------


def test_bad_answers_get_one_error_per_field_and_the_wizard_stays(chat: ChatWorld) -> None:
    owner = "cleo.3bot"
    session = chat.start(owner, "ubuntu")
    bad_name = chat.post(session_path(session, "/answer"), owner, {"answers": {"name": "Bad Name!"}})
    assert bad_name.status_code == 422
    assert errors_of(bad_name) == {"name": "pattern"}
    assert current(chat, owner, session)["step"]["name"] == "name"

    view = chat.answer(owner, session, {"name": "good-name"})
    view = chat.answer(owner, view, {"version": "ubuntu-20.04"})
    assert view["step"]["name"] == "resources"
    bad = chat.post(session_path(session, "/answer"), owner, {"answers": {"cpu": 0, "memory": 100, "disk": 256}})
    assert bad.status_code == 422
    assert errors_of(bad) == {"cpu": "too_small", "memory": "too_small"}
    assert {e["field"]: e["description"] for e in bad.json["errors"]} == {"cpu": "at least 1",
                                                                           "memory": "at least 1024"}  # fmt: skip
    assert bad.json["message"] and bad.json["request_id"]
    stayed = current(chat, owner, session)
    assert stayed["step"] == view["step"]
    assert stayed["answers"] == {"name": "good-name", "version": "ubuntu-20.04"}


def test_unknown_fields_and_malformed_bodies_are_refused(chat: ChatWorld) -> None:
    owner = "cleo.3bot"
    session = chat.start(owner, "ubuntu")
    unknown = chat.post(session_path(session, "/answer"), owner, {"answers": {"name": "box", "colour": "red"}})
    assert unknown.status_code == 422
    assert errors_of(unknown) == {"colour": "unknown"}
    for body in ({"answers": "box"}, {"answers": ["box"]}, ["box"]):
        malformed = chat.post(session_path(session, "/answer"), owner, body)
        assert malformed.status_code == 422, body
    view = current(chat, owner, session)
    assert view["step"]["name"] == "name" and view["answers"] == {}


# -- navigation ----------------------------------------------------------------------------------------------------


def test_back_returns_to_the_previous_step_with_its_answers(chat: ChatWorld) -> None:
    owner = "dina.3bot"
    session = chat.start(owner, "ubuntu")
    no_back = chat.post(session_path(session, "/back"), owner)
    assert no_back.status_code == 409
    view = chat.answer(owner, session, {"name": "backer"})
    view = chat.answer(owner, view, {"version": "ubuntu-18.04"})
    view = chat.answer(owner, view, {"cpu": 2, "memory": 2048, "disk": 512})
    assert view["step"]["name"] == "pool_id" and view["step"]["index"] == 4

    back = chat.post(session_path(session, "/back"), owner)
    assert back.status_code == 200
    assert back.json["step"]["name"] == "resources" and back.json["step"]["index"] == 3
    assert back.json["answers"] == {"name": "backer", "version": "ubuntu-18.04", "cpu": 2, "memory": 2048,
                                    "disk": 512}  # fmt: skip
    back = chat.post(session_path(session, "/back"), owner)
    assert back.json["step"]["name"] == "version" and back.json["answers"]["version"] == "ubuntu-18.04"
    # A changed answer replaces the earlier one; the later answers are still there to pre-fill their steps.
    view = chat.answer(owner, back.json, {"version": "ubuntu-20.04"})
    assert view["step"]["name"] == "resources"
    assert view["answers"]["version"] == "ubuntu-20.04" and view["answers"]["cpu"] == 2


def test_restart_clears_every_answer(chat: ChatWorld) -> None:
    owner = "dina.3bot"
    session = chat.start(owner, "ubuntu")
    view = chat.answer(owner, session, {"name": "again"})
    chat.answer(owner, view, {"version": "ubuntu-18.04"})
    restarted = chat.post(session_path(session, "/restart"), owner)
    assert restarted.status_code == 200
    assert restarted.json["id"] == session["id"]
    assert restarted.json["step"]["name"] == "name" and restarted.json["step"]["index"] == 1
    assert restarted.json["step"]["can_back"] is False
    assert restarted.json["answers"] == {}
    assert current(chat, owner, session)["answers"] == {}


def test_an_abandoned_wizard_is_gone(chat: ChatWorld) -> None:
    owner = "dina.3bot"
    session = chat.start(owner, "ubuntu")
    chat.answer(owner, session, {"name": "dropped"})
    response = chat.delete(session_path(session), owner)
    assert response.status_code == 204 and response.data == b""
    assert chat.get(session_path(session), owner).status_code == 404
    assert chat.post(session_path(session, "/answer"), owner, {"answers": {}}).status_code == 404
    assert chat.delete(session_path(session), owner).status_code == 404
    assert session["id"] not in [s["id"] for s in chat.get(SESSIONS, owner).json["sessions"]]
    assert sql("SELECT id FROM chatflow.sessions WHERE id = %s", session["id"]) == []


# -- names ---------------------------------------------------------------------------------------------------------


def test_a_taken_solution_name_is_refused_on_the_name_step(chat: ChatWorld) -> None:
    owner = "erin.3bot"
    chat.world.network(owner)
    first = walk(chat, owner, chat.start(owner, "ubuntu"), ubuntu_answers(chat, owner, "taken"))
    assert first["status"] == "submitted"
    # A submitted wizard takes no more answers and cannot go back.
    assert chat.post(session_path(first, "/answer"), owner, {"answers": {}}).status_code == 409
    assert chat.post(session_path(first, "/back"), owner).status_code == 409
    assert chat.world.wait(first["solution_id"])["status"] == "deployed"

    second = chat.start(owner, "ubuntu")
    refused = chat.post(session_path(second, "/answer"), owner, {"answers": {"name": "taken"}})
    assert refused.status_code == 422
    assert errors_of(refused) == {"name": "refused"}
    assert "taken" in refused.json["errors"][0]["description"]
    assert current(chat, owner, second)["step"]["name"] == "name"
    # The same name is free for another user, and another name is free for this one.
    other = chat.start("fred.3bot", "ubuntu")
    assert chat.answer("fred.3bot", other, {"name": "taken"})["step"]["name"] == "version"
    assert chat.answer(owner, second, {"name": "not-taken"})["step"]["name"] == "version"


# -- secrets -------------------------------------------------------------------------------------------------------

PROPOSAL = "proposed-Secret-0001"
PASSWORD = "s3cret-Answer-4242"
PROBE = Flow(
    type="secret_probe",
    title="Secret probe",
    description="A wizard that asks for a password (engine test).",
    family="apps",
    icon="🔑",
    steps=[
        Step("name", "Name", [String("name", "Name")]),
        Step("password", "Password", [Secret("password", "Password", default=PROPOSAL, min_length=8)]),
        Step("done", "Done", [Info("done", "Done", markdown="nothing more")]),
    ],
)


@pytest.fixture
def probe_flow(monkeypatch: pytest.MonkeyPatch) -> Iterator[Flow]:
    """A flow with a secret question, served by the real engine for this test only."""
    monkeypatch.setitem(FLOWS, PROBE.type, PROBE)
    yield PROBE


def assert_secret_kept(chat: ChatWorld, owner: str, session: dict[str, Any], name: str, value: str,
                       views: list[Any]) -> None:  # fmt: skip
    """``value`` is in no view and not in the clear in the database, yet stored (encrypted) for the deployment."""
    views = [*views, current(chat, owner, session), chat.get(SESSIONS, owner).json]
    for view in views:
        assert value not in json.dumps(view)
    row = sql("SELECT answers, secret_answers FROM chatflow.sessions WHERE id = %s", session["id"])[0]
    assert name not in row["answers"] and value not in json.dumps(row["answers"])
    stored = bytes(row["secret_answers"])
    assert value.encode() not in stored and name.encode() not in stored
    assert chat.world.identity.decrypt_secrets(stored.decode())[name] == value


def test_a_secret_answer_is_never_sent_back(chat: ChatWorld, probe_flow: Flow) -> None:
    owner = "gina.3bot"
    session = chat.start(owner, probe_flow.type)
    asked = chat.answer(owner, session, {"name": "vault"})
    field = asked["step"]["fields"][0]
    assert (field["kind"], field["default"]) == ("secret", PROPOSAL)  # the proposal, shown before any answer

    done = chat.answer(owner, asked, {"password": PASSWORD})
    assert done["step"]["name"] == "done" and done["answers"] == {"name": "vault"}
    back = chat.post(session_path(session, "/back"), owner)
    assert back.json["step"]["name"] == "password"
    assert back.json["step"]["fields"][0]["default"] == PROPOSAL  # not the answer
    assert_secret_kept(chat, owner, session, "password", PASSWORD, [asked, done, back.json])


def test_the_kubernetes_cluster_secret_is_never_sent_back(chat: ChatWorld) -> None:
    owner = "gina.3bot"
    chat.world.network(owner)
    secret = "cluster-Secret-7777"
    answers = {
        "name": {"name": "k8s"},
        "cluster": {"size": "1", "workers": 1},
        "pool_ids": {"pool_ids": [str(chat.world.pool(owner))]},
        "network": {"network": "net"},
        "access": {"ssh_keys": {"filename": "keys.pub", "content": SSH_KEY + "\n"}, "cluster_secret": secret},
    }
    session = chat.start(owner, "kubernetes")
    view, views = session, [session]
    for _ in range(10):
        asked = {f["name"] for f in view["step"]["fields"]}
        step = view["step"]["name"]
        assert step in answers, (step, view["step"])
        view = chat.answer(owner, view, answers[step])
        views.append(view)
        if "cluster_secret" in asked:
            break
    else:
        raise AssertionError("the kubernetes wizard never asked for the cluster secret")
    assert_secret_kept(chat, owner, session, "cluster_secret", secret, views)


# -- a service that is down ----------------------------------------------------------------------------------------


def to_pool_step(chat: ChatWorld, owner: str) -> dict[str, Any]:
    view = chat.answer(owner, chat.start(owner, "ubuntu"), {"name": "waiting"})
    view = chat.answer(owner, view, {"version": "ubuntu-20.04"})
    view = chat.answer(owner, view, {"cpu": 1, "memory": 1024, "disk": 256})
    assert view["step"]["name"] == "pool_id"
    return view


def assert_unavailable(response: Any, service: str) -> None:
    assert response.status_code == 503, response.json
    body = response.json
    assert set(body) == {"message", "errors", "request_id"}
    assert body["message"] == f"{service} did not answer in time; try again in a moment"
    assert body["errors"] == [{"code": "unavailable", "field": None, "description": body["message"]}]


def test_a_step_whose_choices_need_a_service_that_is_down_answers_503(chat: ChatWorld, silent_app: Flask) -> None:
    owner = "hana.3bot"
    view = to_pool_step(chat, owner)
    silent = silent_app.test_client()
    headers = chat.world.headers(owner)
    assert_unavailable(silent.get(session_path(view), headers=headers), "the pools service")
    # The name check asks the deployer: refused as unavailable, and the wizard stays where it was.
    session = chat.start(owner, "ubuntu")
    answer = silent.post(session_path(session, "/answer"), json={"answers": {"name": "box"}}, headers=headers)
    assert_unavailable(answer, "the deployer")
    assert current(chat, owner, session)["step"]["name"] == "name"
    # Once the service answers again, so does the wizard.
    assert current(chat, owner, view)["step"]["name"] == "pool_id"


def test_an_answer_refused_as_unavailable_can_be_retried(chat: ChatWorld, silent_app: Flask) -> None:
    # The page says "your answers are kept; retry" after a 503 and repeats the same POST: it must find the wizard
    # still on the step it answered, not one step further (where the same answers are 422 "unknown field").
    owner = "hana.3bot"
    view = chat.answer(owner, chat.start(owner, "ubuntu"), {"name": "retry"})
    view = chat.answer(owner, view, {"version": "ubuntu-20.04"})
    resources = {"answers": {"cpu": 1, "memory": 1024, "disk": 256}}
    down = silent_app.test_client().post(session_path(view, "/answer"), json=resources,
                                         headers=chat.world.headers(owner))  # fmt: skip
    assert_unavailable(down, "the pools service")
    retried = chat.post(session_path(view, "/answer"), owner, resources)
    assert retried.status_code == 200, retried.json
    assert retried.json["step"]["name"] == "pool_id"


# -- expiry --------------------------------------------------------------------------------------------------------


def test_an_expired_wizard_is_gone_and_the_worker_deletes_it(chat: ChatWorld, processes: Processes) -> None:
    owner = "iris.3bot"
    expired = [chat.start(owner, "ubuntu") for _ in range(2)]
    kept = chat.start(owner, "ubuntu")
    chat.answer(owner, expired[0], {"name": "old"})
    ids = [s["id"] for s in expired]
    sql("UPDATE chatflow.sessions SET expires_at = now() - interval '1 minute' WHERE id = ANY(%s::uuid[])", ids)
    for session in expired:
        assert chat.get(session_path(session), owner).status_code == 404
        assert chat.post(session_path(session, "/answer"), owner, {"answers": {"name": "late"}}).status_code == 404
    assert [s["id"] for s in chat.get(SESSIONS, owner).json["sessions"]] == [kept["id"]]
    assert len(sql("SELECT id FROM chatflow.sessions WHERE id = ANY(%s::uuid[])", ids)) == 2  # not deleted yet

    processes.start("chatflow-worker", [PYTHON, "-m", "deploy.role", "chatflow-worker"], chat.world.env)
    deleted = send(chat.world.celery, contracts.CHATFLOW_EXPIRE, contracts.ExpireSessions()).get(timeout=60)
    assert deleted == 2
    assert sql("SELECT id FROM chatflow.sessions WHERE id = ANY(%s::uuid[])", ids) == []
    assert current(chat, owner, kept)["status"] == "active"
    again = send(chat.world.celery, contracts.CHATFLOW_EXPIRE, contracts.ExpireSessions()).get(timeout=60)
    assert again == 0
