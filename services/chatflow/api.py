"""The shapes of the chatflow API (``API.md``): the answer body the views validate, and the answers they give."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class AnswerBody(BaseModel):
    """The current step's answers, by field name (display-only steps: ``{}``)."""

    answers: dict[str, Any] = Field(default_factory=dict)


class CatalogueEntry(BaseModel):
    type: str
    title: str
    description: str
    family: Literal["advanced", "apps"]
    icon: str


class Catalogue(BaseModel):
    """Every wizard that can be started (public)."""

    chatflows: list[CatalogueEntry]


class SessionSummary(BaseModel):
    id: str
    type: str
    title: str
    status: Literal["active"]
    updated: str
    name: Any = None


class Sessions(BaseModel):
    """The caller's unfinished wizard sessions."""

    sessions: list[SessionSummary]


class Field_(BaseModel):
    """One field of a step; its other keys depend on ``kind`` (API.md, Field)."""

    model_config = ConfigDict(extra="allow", title="Field")

    name: str
    kind: str
    label: str
    help: str
    required: bool
    default: Any = None


class Step(BaseModel):
    index: int
    count: int
    name: str
    title: str
    can_back: bool
    final: bool
    fields: list[Field_]


class SessionView(BaseModel):
    """A wizard session at its current step (API.md, Session view)."""

    id: str
    type: str
    title: str
    status: Literal["active", "submitted", "finished"]
    step: Step
    answers: dict[str, Any]
    solution_id: str | None
    expires_at: str
