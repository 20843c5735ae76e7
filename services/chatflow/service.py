"""The wizard engine: start, show, answer, back, restart, abandon — each persisted before it answers.

Identity is the caller given by the web layer (from the verified assertion only). Secret answers live only in
``secret_answers``, encrypted to the marketplace identity; they are never put in the view, the logs or the clear
``answers``. A session is read and changed under its row lock, so two tabs answering at once take turns; a step's
``probe`` of a remote (the flist hub) runs before that lock, so a slow remote holds none.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.chatflow import store
from services.chatflow.flow import Context, Flow
from services.chatflow.flows import FLOWS, apps
from services.chatflow.queries import Queries
from services.chatflow.questions import Invalid, Progress
from services.common import contracts
from services.common.db import Database
from services.common.errors import ApiError, FieldError, ServiceUnavailable
from services.common.identity import Identity


class NotFound(Exception):
    """No such flow, or no such session of this user."""


class _ProbeFirst(Exception):
    """The current step has a probe: it must run before the row lock is taken (``Engine.answer``)."""


@dataclass
class Engine:
    db: Database
    identity: Identity
    queries: Queries
    ttl: int
    max_open: int = 20  # unfinished sessions a user may have at once (CHATFLOW_OPEN_SESSIONS)

    # -- reading ----------------------------------------------------------------------------------------------

    def catalogue(self) -> tuple[list[dict[str, str]], bool]:
        """Every wizard: the advanced ones (code) and one per app definition of the deployer; and whether that is
        all of them.

        With the deployer unreachable the apps are missing for a moment (False); the rest of the catalogue still
        shows.
        """
        try:
            found, complete = apps.flows(self.queries), True
        except ServiceUnavailable:
            found, complete = {}, False
        return [flow.catalogue_entry() for flow in (*FLOWS.values(), *found.values())], complete

    def flow(self, flow_type: str) -> Flow | None:
        """The wizard of a type: an advanced one, else the app definition's (asked of the deployer, cached)."""
        return FLOWS.get(flow_type) or apps.flows(self.queries).get(flow_type)

    def start(self, owner: str, flow_type: str) -> dict[str, Any]:
        """A new session at the flow's first applicable step.

        Raises:
            NotFound: unknown flow.
            ApiError: 429 when the user already has ``max_open`` unfinished sessions (none is touched).
        """
        flow = self.flow(flow_type)
        if flow is None:
            raise NotFound(flow_type)
        first = flow.next_index(Context(owner, "", {}, {}, self.queries), -1) or 0
        with self.db.transaction() as cur:
            held = store.lock_open_count(cur, owner)
            if held["n"] >= self.max_open:
                raise _too_many_open(self.max_open, held["first_expiry"])
            row = store.create(cur, owner, flow_type, first, self.ttl)
        return self.view(row)

    def _known(self, flow_type: str) -> Flow:
        """The flow of an existing session (an app whose definition was removed since: 503, not a crash).

        Raises:
            ServiceUnavailable: the app's definition is no longer offered.
        """
        flow = self.flow(flow_type)
        if flow is None:
            raise ServiceUnavailable(f"the {flow_type} wizard is not offered at the moment; try again later")
        return flow

    def show(self, owner: str, session_id: str) -> dict[str, Any]:
        with self.db.transaction() as cur:
            row = store.get(cur, session_id, owner)
        if row is None:
            raise NotFound(session_id)
        return self.view(row)

    def sessions(self, owner: str) -> list[dict[str, Any]]:
        with self.db.transaction() as cur:
            rows = store.open_sessions(cur, owner)
        return [self._summary(row) for row in rows]

    def _summary(self, row: dict[str, Any]) -> dict[str, Any]:
        flow = self.flow(row["solution_type"])
        return {"id": str(row["id"]), "type": row["solution_type"], "title": flow.title if flow else "",
                "status": "active", "updated": row["updated_at"].isoformat(),
                "name": row["answers"].get("name")}  # fmt: skip

    def _context(self, row: dict[str, Any]) -> Context:
        secrets = self.identity.decrypt_secrets(bytes(row["secret_answers"]).decode()) if row["secret_answers"] else {}
        queries = self.queries.for_session(str(row["id"]))
        return Context(row["owner"], str(row["id"]), dict(row["answers"]), secrets, queries)

    def view(self, row: dict[str, Any]) -> dict[str, Any]:
        """The session as the browser sees it (API.md): the current step's fields, earlier non-secret answers."""
        flow = self._known(row["solution_type"])
        ctx = self._context(row)
        status = {"open": "active"}.get(row["status"], row["status"])
        if row["status"] == "submitted":
            progress = Progress("progress", "Deployment", solution_id=str(row["solution_id"]))
            more = flow.after_submit(ctx) if flow.after_submit else []
            n = len(row["history"]) + 1
            step = {"index": n, "count": n, "name": "progress", "title": "Deploying", "can_back": False,
                    "final": False, "fields": [q.as_json() for q in (progress, *more)]}  # fmt: skip
        else:
            current = flow.steps[row["step"]]
            # A finished wizard stays on its last step, which is already in the history.
            n = len(row["history"]) + (0 if row["status"] == "finished" else 1)
            step = {
                "index": n,
                "count": n + flow.remaining(ctx, row["step"]),
                "name": current.name,
                "title": current.title,
                "can_back": bool(row["history"]) and row["status"] == "open",
                "final": flow.submit is not None and flow.next_index(ctx, row["step"]) is None,
                "fields": [q.as_json() for q in current.questions(ctx)],
            }
        return {
            "id": str(row["id"]),
            "type": flow.type,
            "title": flow.title,
            "status": status,
            "step": step,
            "answers": ctx.answers,
            "solution_id": str(row["solution_id"]) if row["solution_id"] else None,
            "expires_at": row["expires_at"].isoformat(),
        }

    # -- changing ---------------------------------------------------------------------------------------------

    def answer(self, owner: str, session_id: str, answers: dict[str, Any], email: str = "") -> dict[str, Any]:
        """Validate the current step's answers, store them, move on (and submit after the last step).

        Raises:
            NotFound: not this user's session.
            ApiError: 422 with one error per field; 409 when the session is no longer open.
            ServiceUnavailable: a service the step asks did not answer (503, retryable).
        """
        try:
            return self._answer(owner, session_id, answers, email, None, first=True)
        except _ProbeFirst:  # the step asks a remote: asked now, with the row unlocked, then answered
            return self._answer(owner, session_id, answers, email, self._probe(owner, session_id, answers))

    def _answer(self, owner: str, session_id: str, answers: dict[str, Any], email: str,
                probed: tuple[int, Mapping[str, str]] | None, first: bool = False) -> dict[str, Any]:  # fmt: skip
        """``answer`` under the row lock (one transaction when the step has no probe).

        Raises:
            _ProbeFirst: ``first`` and the step has a probe (nothing was written; the lock is released).
        """
        with self.db.transaction() as cur:
            row = store.get(cur, session_id, owner, lock=True)
            if row is None:
                raise NotFound(session_id)
            if row["status"] != "open":
                raise ApiError(409, "this wizard is finished", (FieldError("finished", "this wizard is finished"),))
            flow = self._known(row["solution_type"])
            ctx = self._context(row)
            ctx.email = email
            step = flow.steps[row["step"]]
            if step.probe is not None and first:
                raise _ProbeFirst
            if step.probe is not None and (probed is None or probed[0] != row["step"]):
                message = "the wizard moved on in another tab; send the answers again"
                raise ApiError(409, message, (FieldError("moved_on", message),))
            self._accept(ctx, step, answers, probed[1] if probed else {})
            history = [*row["history"], row["step"]]
            following = flow.next_index(ctx, row["step"])
            status, spec, solution_id, index = "open", None, None, row["step"]
            if following is not None:
                index = following
            elif flow.submit is not None:
                submission = flow.submit(ctx)
                solution_id = self._submit(ctx, submission)
                status, spec = "submitted", submission.spec
            else:
                status = "finished"
            store.save(cur, session_id, step=index, answers=ctx.answers, secret_answers=self._seal(ctx),
                       history=history, status=status, ttl_seconds=self.ttl, spec=spec,
                       solution_id=solution_id)  # fmt: skip
            row = store.get(cur, session_id, owner)
            assert row is not None
            # Built before the commit: if the next step's questions cannot be asked (a service is down → 503),
            # the move is rolled back and the same answer can simply be sent again (purchases and submissions
            # are idempotent on the session id).
            return self.view(row)

    def _probe(self, owner: str, session_id: str, answers: dict[str, Any]) -> tuple[int, Mapping[str, str]] | None:
        """(step index, refusals) of the current step's probe, asked before the row lock; ``None`` without one."""
        with self.db.transaction() as cur:
            row = store.get(cur, session_id, owner)
        if row is None or row["status"] != "open" or (flow := self.flow(row["solution_type"])) is None:
            return None
        step = flow.steps[row["step"]]
        return None if step.probe is None else (row["step"], step.probe(answers))

    def _accept(self, ctx: Context, step: Any, answers: dict[str, Any], probed: Mapping[str, str]) -> None:
        questions = step.questions(ctx)
        errors: list[FieldError] = []
        clean: dict[str, Any] = {}
        for q in questions:
            if q.display_only:
                continue
            try:
                clean[q.name] = q.check(answers.get(q.name))
            except Invalid as exc:
                errors.append(FieldError(exc.code, str(exc), q.name))
        unknown = set(answers) - {q.name for q in questions}
        errors += [FieldError("unknown", "not a field of this step", name) for name in sorted(unknown)]
        if not errors:
            errors += [FieldError("refused", message, name) for name, message in probed.items()]
        if not errors and step.check is not None:
            errors += [FieldError("refused", message, name) for name, message in step.check(ctx, clean).items()]
        if errors:
            raise ApiError(422, "some answers need a change", tuple(errors))
        secret_names = {q.name for q in questions if q.secret}
        for name, value in clean.items():
            (ctx.secrets if name in secret_names else ctx.answers)[name] = value
        if step.then is not None:
            step.then(ctx)
            ctx.queries.forget_choices()  # it acted (bought a pool…): the choices it may change are asked again

    def _seal(self, ctx: Context) -> bytes | None:
        return self.identity.encrypt_secrets(ctx.secrets).encode() if ctx.secrets else None

    def _submit(self, ctx: Context, submission: Any) -> str:
        """Hand the deployment to the deployer (the session id is the idempotency key: a retry is harmless).

        Raises:
            ApiError: 422 when the deployer refuses the spec (its reasons, per field).
        """
        payload = contracts.SubmitSolution(
            idempotency_key=ctx.session_id.replace("-", ""), owner=ctx.owner, type=submission.type,
            spec=submission.spec, secrets=self.identity.encrypt_secrets(submission.secrets) if submission.secrets
            else "", pools=self._verified_pools(ctx, submission.spec),
        )  # fmt: skip
        result = self.queries.submit(payload)
        if not result.ok or result.solution_id is None:
            errors = tuple(FieldError("refused", e.description, e.field) for e in result.errors)
            raise ApiError(422, "the deployment was refused", errors or (FieldError("refused", "refused"),))
        return result.solution_id

    def _verified_pools(self, ctx: Context, spec: dict[str, Any]) -> list[contracts.VerifiedPool]:
        """Every pool id of the spec with its grid pool, each checked to be the owner's (the deployer trusts these
        and no other pool id: it reads the grid pools itself, without asking the pools service again).

        Raises:
            ApiError: 422 naming a pool that is not the owner's (or not reserved on the grid yet).
        """
        owned = {p.pool_id: p.grid_pool_id for p in self.queries.pools(ctx.owner)}
        verified = []
        for field, pool_id in sorted(set(pool_ids(spec))):
            grid_pool_id = owned.get(pool_id)
            if grid_pool_id is None:
                raise ApiError(422, "the deployment was refused", (FieldError("refused", f"you have no pool {pool_id}",
                                                                              field),))  # fmt: skip
            verified.append(contracts.VerifiedPool(pool_id=pool_id, grid_pool_id=grid_pool_id))
        return list({v.pool_id: v for v in verified}.values())

    def back(self, owner: str, session_id: str) -> dict[str, Any]:
        """The previous step (answers kept to pre-fill it).

        Raises:
            NotFound: not this user's session. ApiError: 409 at the first step or after submission.
        """
        with self.db.transaction() as cur:
            row = store.get(cur, session_id, owner, lock=True)
            if row is None:
                raise NotFound(session_id)
            if row["status"] != "open" or not row["history"]:
                raise ApiError(409, "there is no step to go back to", (FieldError("no_back", "no previous step"),))
            history = list(row["history"])
            previous = history.pop()
            store.save(cur, session_id, step=previous, answers=row["answers"], secret_answers=row["secret_answers"],
                       history=history, status="open", ttl_seconds=self.ttl)  # fmt: skip
            row = store.get(cur, session_id, owner)
            assert row is not None
            return self.view(row)  # inside the transaction, as in answer()

    def restart(self, owner: str, session_id: str) -> dict[str, Any]:
        """Back to the first step with every answer cleared (not after submission: the deployment is running).

        Raises:
            NotFound: not this user's session. ApiError: 409 after submission.
        """
        with self.db.transaction() as cur:
            row = store.get(cur, session_id, owner, lock=True)
            if row is None:
                raise NotFound(session_id)
            if row["status"] != "open":
                raise ApiError(409, "this wizard is finished", (FieldError("finished", "this wizard is finished"),))
            flow = self._known(row["solution_type"])
            self.queries.for_session(session_id).forget_choices()
            first = flow.next_index(Context(owner, session_id, {}, {}, self.queries), -1) or 0
            store.save(cur, session_id, step=first, answers={}, secret_answers=None, history=[], status="open",
                       ttl_seconds=self.ttl)  # fmt: skip
            row = store.get(cur, session_id, owner)
        assert row is not None
        return self.view(row)

    def abandon(self, owner: str, session_id: str) -> None:
        """Delete the session now (its deployment, if submitted, goes on: cancel it in My solutions).

        Raises:
            NotFound: not this user's session.
        """
        with self.db.transaction() as cur:
            if not store.delete(cur, session_id, owner):
                raise NotFound(session_id)


def _too_many_open(limit: int, first_expiry: datetime) -> ApiError:
    # Retry-After: when the oldest of them expires on its own (sooner if the user finishes or abandons one).
    wait = max(1, math.ceil((first_expiry - datetime.now(UTC)).total_seconds()))
    message = (f"you have {limit} unfinished wizards, the most allowed: finish or abandon one "
               "(your unfinished wizards are listed on the catalogue page) before starting another")  # fmt: skip
    return ApiError(429, message, (FieldError("too_many_sessions", message),), {"Retry-After": str(wait)})


def pool_ids(spec: Any, field: str = "") -> Iterator[tuple[str, int]]:
    """(field, pool id) for every pool a spec names: ``pool_id`` values and ``…pool_ids`` lists, at any depth."""
    if isinstance(spec, dict):
        for name, value in spec.items():
            if name == "pool_id" and isinstance(value, int):
                yield name, value
            elif name.endswith("pool_ids") and isinstance(value, list):
                yield from ((name, v) for v in value if isinstance(v, int))
            else:
                yield from pool_ids(value, name)
    elif isinstance(spec, list):
        for item in spec:
            yield from pool_ids(item, field)
