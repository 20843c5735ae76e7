"""The spec an app wizard submits (``/work/notes/apps_api.md`` §2), as one pydantic model per definition.

The answers are checked with the rules of the definition's questions (the same constraints the chatflow applies:
a chatflow bug or a hand-made request gets a 422 naming ``answers.<question>``, never a broken deployment). Secret
answers are not in the spec: they travel encrypted with the solution's secrets and are required by name
(``secret_names``); the generated secrets are made fresh at submission (:meth:`AppSpec.fresh_secrets`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BeforeValidator, Field, StrictInt, create_model, field_validator

from services.common import text_rules
from services.deployer.apps import generators
from services.deployer.apps.schema import Definition, Question
from services.deployer.solutions import gateway
from services.deployer.solutions.base import Spec
from services.deployer.solutions.fields import Domain, Frozen, NetworkName, NodeId, PoolId, matching
from services.deployer.solutions.fields import _ssh_key as ssh_key_line

Email = Annotated[str, Field(max_length=text_rules.EMAIL_MAX), matching(text_rules.EMAIL, text_rules.EMAIL_HELP)]


def _digits_to_int(value: Any) -> Any:
    return int(value) if isinstance(value, str) and re.fullmatch(r"-?\d{1,18}", value.strip()) else value


def _one_of(allowed: tuple[Any, ...]) -> AfterValidator:
    def check(value: Any) -> Any:
        if value not in allowed:
            raise ValueError(f"choose one of: {', '.join(str(a) for a in allowed)}")
        return value

    return AfterValidator(check)


def _answer_type(q: Question) -> Any:
    if q.kind == "integer":
        return Annotated[StrictInt, BeforeValidator(_digits_to_int), Field(ge=q.min, le=q.max)]
    if q.kind in ("choice", "dropdown"):
        values = tuple(c.value for c in q.choices or [])
        return Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v), _one_of(values)]
    constraints: list[Any] = [Field(min_length=q.min_length, max_length=q.max_length)]
    if q.pattern is not None:
        constraints.append(matching(q.pattern, q.pattern_help or "not in the expected format"))
    return Annotated[str, *constraints]


def answers_model(d: Definition) -> type[Frozen]:
    """The model of ``answers``: one field per public question (+ ``size`` for the volume), unknown ones refused."""
    fields: dict[str, Any] = {}
    for q in d.public_answers():
        kind = _answer_type(q)
        if q.required:
            fields[q.name] = (kind, ...)
        else:
            fields[q.name] = (kind | None, q.default)
    if d.volume is not None:
        sizes = tuple(d.volume.sizes)
        fields["size"] = (Annotated[StrictInt, BeforeValidator(_digits_to_int), _one_of(sizes)], d.volume.default)
    return create_model(f"{d.type.title()}Answers", __base__=Frozen, **fields)


class AppSpec(Spec):
    """Base of every app's spec; :func:`spec_model` makes the per-definition subclass."""

    definition: ClassVar[Definition]

    pool_id: PoolId  # the pool bought for this deployment
    network: NetworkName  # the owner's apps network (short name)
    node_id: NodeId | None = None
    email: str = ""
    ssh_key: str = ""
    answers: Frozen
    # The user's pools to find a gateway in (SOLUTIONS §1.9); the chatflow verifies each like any pool id.
    gateway_pool_ids: list[PoolId] = Field(default_factory=list, max_length=256)
    parent_domain: Domain | None = None
    # The ``-<n>`` of the name the wizard showed when ``<owner>-<name>`` was taken (planning tries it first).
    domain_suffix: int | None = Field(None, ge=gateway.SUFFIX_RANGE[0], le=gateway.SUFFIX_RANGE[1])

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        # The certificate's account (TLS proxy, in-image tunnel): required with a public name.
        needed = bool(value) or cls.definition.exposure is not None
        if needed and (not re.fullmatch(text_rules.EMAIL, value) or len(value) > text_rules.EMAIL_MAX):
            raise ValueError(text_rules.EMAIL_HELP)
        return value

    @field_validator("ssh_key")
    @classmethod
    def _ssh_key(cls, value: str) -> str:
        if value.strip():
            return ssh_key_line(value)
        if cls.definition.ssh_key == "required":
            raise ValueError("an ssh public key is required")
        return ""

    @field_validator("gateway_pool_ids")
    @classmethod
    def _gateway_pools(cls, value: list[int]) -> list[int]:
        if cls.definition.exposure is not None and not value:
            raise ValueError("at least one pool to find a gateway in")
        if cls.definition.exposure is None and value:
            raise ValueError("this app has no public name: no gateway pools")
        return value

    @classmethod
    def fresh_secrets(cls) -> dict[str, str]:
        """The tunnel secret (32 hex chars) and each ``generate:`` of the definition, by its generator."""
        made = {generators.secret_name(var): generators.GENERATORS[source.generate]()
                for var, source in cls.definition.secret_env.items() if source.generate is not None}  # fmt: skip
        return {**super().fresh_secrets(), **made}


def spec_model(d: Definition) -> type[AppSpec]:
    """The spec model of one app: its answers model, its secret questions and generated secrets."""
    secret_questions = tuple(q.name for q in d.questions if q.kind == "secret")
    model = create_model(f"{d.type.title()}Spec", __base__=AppSpec, answers=(answers_model(d), ...))
    model.definition = d
    model.secret_names = secret_questions
    made = tuple(generators.secret_name(var) for var, source in d.secret_env.items() if source.generate is not None)
    model.generated_secrets = ((gateway.TUNNEL_SECRET,) if d.exposure is not None else ()) + made
    return model
