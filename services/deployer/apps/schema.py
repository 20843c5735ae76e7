"""The app definition file (issue 13): one YAML file per app, validated by this schema before the deployer starts.

An app is data: what it asks, what it runs, how it is exposed. Every mistake an operator can make in a file is a
validation error here — an unknown key, a missing port, an image key the marketplace does not know, a template that
does not compile or names something the context lacks — so a bad file stops the process at start-up (with the file,
the key and the reason, ``loader.py``) instead of failing a customer's deployment later.

The known image keys come in the validation context (``{"images": {...}}``): they are the ``FLIST_*`` settings and
the official images (``images.py``), a fact of the code, not of the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from services.deployer.apps import templates

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
EnvKey = Annotated[str, Field(max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Text = Annotated[str, Field(min_length=1, max_length=400)]
QuestionKind = Literal["string", "secret", "text", "integer", "choice", "dropdown"]
Generator = Literal["password", "ed25519_seed", "curve25519_key", "guid"]
Step = Literal["subdomain", "volume", "container", "reverse_proxy", "tls_proxy"]
OverviewKey = Literal["name", "network", "node", "pool", "cpu", "memory", "disk", "ip", "domain", "volume"]
VOLUME_QUESTION = "size"  # the name under which the wizard asks the volume size
# Set by the (P) pattern itself (gateway.tunnel_env): a definition may not set them too.
TUNNEL_ENV = frozenset({"TRC_REMOTE", "DOMAIN", "TEST_CERT", "TRC_SECRET"})


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Choice(Strict):
    value: Annotated[str, Field(min_length=1, max_length=64)]
    label: Text


class Question(Strict):
    """One app question, in one of the chatflow's existing question kinds (its ``questions.py``)."""

    name: Identifier
    kind: QuestionKind
    label: Text
    help: Annotated[str, Field(max_length=1000)] = ""
    required: StrictBool = True
    default: str | StrictInt | None = None
    choices: list[Choice] | None = None
    min_length: Annotated[int, Field(ge=0, le=16_384)] | None = None
    max_length: Annotated[int, Field(ge=1, le=16_384)] = 256
    pattern: Annotated[str, Field(max_length=500)] | None = None
    pattern_help: Annotated[str, Field(max_length=200)] = ""
    min: StrictInt | None = None
    max: StrictInt | None = None

    @field_validator("choices", mode="before")
    @classmethod
    def _short_choices(cls, value: Any) -> Any:
        # `choices: [wiki, www]` is the short form of `[{value: wiki, label: wiki}, …]`.
        if isinstance(value, list):
            return [{"value": str(c), "label": str(c)} if isinstance(c, str | int) else c for c in value]
        return value

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Question:
        picks = self.kind in ("choice", "dropdown")
        if picks and not self.choices:
            raise ValueError(f"a {self.kind} question needs choices")
        if not picks and self.choices is not None:
            raise ValueError(f"a {self.kind} question has no choices")
        if picks and self.default is not None and str(self.default) not in {c.value for c in self.choices or []}:
            raise ValueError(f"the default {self.default!r} is not one of the choices")
        if self.kind == "secret" and (not self.required or self.default is not None):
            raise ValueError("a secret question is required and has no default (it is never shown back)")
        if self.kind != "integer" and (self.min is not None or self.max is not None):
            raise ValueError("min/max are for integer questions")
        return self


class Resources(Strict):
    """The app container: vCPU, memory MiB, root filesystem MiB (SOLUTIONS §1.4 minimums)."""

    cpu: StrictInt = Field(ge=1, le=64)
    memory: StrictInt = Field(ge=1024, le=256 * 1024)
    disk: StrictInt = Field(ge=256, le=1024 * 1024)


class Volume(Strict):
    """A data volume on the app's node; the wizard asks its size among ``sizes`` (GiB)."""

    sizes: list[Annotated[int, Field(ge=1, le=10 * 1024)]] = Field(min_length=1, max_length=10)
    default: StrictInt
    label: Text = "Storage size (GiB)"
    mount: str = Field(max_length=255, pattern=r"^(/[A-Za-z0-9_][A-Za-z0-9._-]*)+/?$")
    disk: Literal["ssd", "hdd"] = "ssd"

    @model_validator(mode="after")
    def _default_offered(self) -> Volume:
        if self.default not in self.sizes:
            raise ValueError(f"the default {self.default} is not one of the sizes")
        return self


class SecretSource(Strict):
    """Where a secret env value comes from: generated fresh per deployment, or a secret question's answer."""

    generate: Generator | None = None
    answer: Identifier | None = None

    @model_validator(mode="after")
    def _one(self) -> SecretSource:
        if (self.generate is None) == (self.answer is None):
            raise ValueError("give exactly one of 'generate' or 'answer'")
        return self


class Exposure(Strict):
    """(C) a TLS-proxy helper beside the app forwards to ``port``; (P) the image runs the tunnel itself."""

    pattern: Literal["C", "P"]
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    enforce_https: StrictBool = True

    @model_validator(mode="after")
    def _port(self) -> Exposure:
        if self.pattern == "C" and self.port is None:
            raise ValueError("missing port: the C pattern forwards to the app's HTTP port")
        if self.pattern == "P" and self.port is not None:
            raise ValueError("the P pattern has no port (the image runs the tunnel itself)")
        return self


class Definition(Strict):
    type: Identifier
    title: Annotated[str, Field(min_length=1, max_length=64)]
    description: Text
    icon: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}\.svg$")
    image: str = Field(pattern=r"^FLIST_[A-Z0-9_]+$")
    entrypoint: Annotated[str, Field(max_length=1024)] = ""
    resources: Resources
    public_ipv6: StrictBool = False
    volume: Volume | None = None
    ssh_key: Literal["none", "optional", "required"] = "none"
    questions: list[Question] = Field(default_factory=list, max_length=20)
    env: dict[EnvKey, Annotated[str, Field(max_length=2048)]] = Field(default_factory=dict, max_length=64)
    secret_env: dict[EnvKey, SecretSource] = Field(default_factory=dict, max_length=64)
    exposure: Exposure | None = None
    order: list[Step] | None = None
    overview: list[OverviewKey] = Field(min_length=1)
    end: Annotated[str, Field(min_length=1, max_length=2000)]

    @field_validator("image")
    @classmethod
    def _known_image(cls, value: str, info: ValidationInfo) -> str:
        known = (info.context or {}).get("images")
        if known is not None and value not in known:
            raise ValueError(f"unknown image key {value!r} (known: {', '.join(sorted(known))})")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Definition:
        names = [q.name for q in self.questions]
        if len(set(names)) != len(names):
            raise ValueError("two questions have the same name")
        if self.volume is not None and VOLUME_QUESTION in names:
            raise ValueError(f"the question name {VOLUME_QUESTION!r} is the volume size's")
        secret_questions = {q.name for q in self.questions if q.kind == "secret"}
        for var, source in self.secret_env.items():
            if source.answer is not None and source.answer not in secret_questions:
                raise ValueError(f"secret_env.{var}: {source.answer!r} is not a secret question")
        if both := sorted(set(self.env) & set(self.secret_env)):
            raise ValueError(f"{both[0]} is both in env and in secret_env")
        taken = sorted(TUNNEL_ENV & (set(self.env) | set(self.secret_env)))
        if self.exposure is not None and self.exposure.pattern == "P" and taken:
            raise ValueError(f"{taken[0]} is set by the P pattern itself")
        _check_order(self)
        templates.check(self)
        return self

    def steps(self) -> list[str]:
        """The workloads in deployment order, one stage each (``order`` or the SOLUTIONS §4 default)."""
        return list(self.order) if self.order is not None else _default_order(self)

    def public_answers(self) -> list[Question]:
        return [q for q in self.questions if q.kind != "secret"]


def _default_order(d: Definition) -> list[str]:
    volume = ["volume"] if d.volume is not None else []
    if d.exposure is None:
        return [*volume, "container"]
    if d.exposure.pattern == "P":
        return ["subdomain", "reverse_proxy", *volume, "container"]
    return ["subdomain", *volume, "container", "reverse_proxy", "tls_proxy"]


def _check_order(d: Definition) -> None:
    if d.order is None:
        return
    expected = _default_order(d)
    if sorted(d.order) != sorted(expected):
        raise ValueError(f"order must list exactly: {', '.join(expected)}")
    if "volume" in d.order and d.order.index("volume") > d.order.index("container"):
        raise ValueError("order: the volume comes before the container that mounts it")


def validation_context(images: Mapping[str, str]) -> dict[str, Any]:
    return {"images": frozenset(images)}
