"""What a flow is: an ordered list of steps, each asking one question or a form, plus what finishing does.

A flow module (``services/chatflow/flows/<type>.py``) declares ``FLOW = Flow(...)``. Steps compute their fields
from a :class:`Context` (earlier answers, and the answers of other services through :class:`Queries`), may be
skipped (``when``), may check an answer against other services (``check``) and may act once answered
(``then``: buy a pool). Finishing either submits a deployment (``submit`` → ``deployer.submit_solution``, the
session id as idempotency key) or simply ends (the pools flow ends on its payment step).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from services.chatflow.queries import Queries
from services.chatflow.questions import Question


@dataclass
class Context:
    """One session as a step sees it: who (from the verified assertion only), what was answered, the services."""

    owner: str
    session_id: str
    answers: dict[str, Any]
    secrets: dict[str, str]
    queries: Queries
    email: str = ""  # the user's 3Bot e-mail, from the verified assertion (set while answering)

    def get(self, name: str, default: Any = None) -> Any:
        value = self.answers.get(name, self.secrets.get(name))
        return default if value is None else value

    @property
    def short_owner(self) -> str:
        """The 3Bot name without ``.3bot`` (a default MinIO access key, for instance)."""
        return self.owner.removesuffix(".3bot")


Fields = list[Question] | Callable[[Context], list[Question]]
Check = Callable[[Context, Mapping[str, Any]], Mapping[str, str]]
Probe = Callable[[Mapping[str, Any]], Mapping[str, str]]


def always(ctx: Context) -> bool:
    return True


@dataclass
class Step:
    """``check`` returns ``{field: message}`` for answers another service refuses (a taken name);
    ``then`` runs once the step is accepted and may store more answers (``ctx.answers``).
    ``probe`` asks a remote outside our services about the step's raw answers (does the hub have this image?); it
    runs before the session's row lock is taken, so a slow remote never holds the lock, and so it sees only the
    answers sent, never the session. It returns ``{field: message}`` like ``check``."""

    name: str
    title: str
    fields: Fields
    when: Callable[[Context], bool] = always
    check: Check | None = None
    probe: Probe | None = None
    then: Callable[[Context], None] | None = None

    def questions(self, ctx: Context) -> list[Question]:
        return list(self.fields(ctx) if callable(self.fields) else self.fields)


@dataclass(frozen=True)
class Submission:
    """A deployment to hand to the deployer: its type, its spec, and the secrets (encrypted on the way)."""

    type: str
    spec: dict[str, Any]
    secrets: dict[str, str] = field(default_factory=dict)


@dataclass
class Flow:
    type: str
    title: str
    description: str
    family: str  # "advanced" or "apps"
    icon: str
    steps: list[Step]
    submit: Callable[[Context], Submission] | None = None
    # Shown under the progress once submitted (the apps network's WireGuard file, for the session that created it).
    after_submit: Callable[[Context], list[Question]] | None = None

    def catalogue_entry(self) -> dict[str, str]:
        return {"type": self.type, "title": self.title, "description": self.description, "family": self.family,
                "icon": self.icon}  # fmt: skip

    def next_index(self, ctx: Context, after: int) -> int | None:
        """The first step after ``after`` that applies to these answers (``None``: the flow is complete)."""
        for index in range(after + 1, len(self.steps)):
            if self.steps[index].when(ctx):
                return index
        return None

    def remaining(self, ctx: Context, current: int) -> int:
        """How many steps still apply after ``current`` (for "step n of m")."""
        return sum(1 for step in self.steps[current + 1 :] if step.when(ctx))
