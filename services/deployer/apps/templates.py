"""The templates of an app definition (env values, entrypoint, end message), rendered by Jinja2 in its sandbox.

An operator writes these templates, a customer's answers fill them: the sandbox (``SandboxedEnvironment``) keeps a
template from reaching Python internals, ``StrictUndefined`` turns a misspelt name into an error instead of an empty
string, and in the entrypoint every ``{{ … }}`` value is shell-quoted (``finalize``) — an answer such as
``x; rm -rf /`` stays one word of the command.

The context never holds a secret (a secret answer, a generated key): those only reach a container's
``secret_environment`` (``solutions/app.py``), so no template can copy one into plain env. At load time every
template is compiled and rendered once with a sample context, so a bad one stops the process then.
"""

from __future__ import annotations

import shlex
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

# What a template may use (the end message also gets END_ONLY); documented in README "Apps".
CONTEXT = ("name", "owner", "email", "ssh_key", "answers", "volume_size", "domain", "url", "threebot_login_url",
           "openkyc_url", "test_cert")  # fmt: skip
END_ONLY = ("ip", "workload_id")


def _quote(value: Any) -> str:
    return shlex.quote(str(value))


_PLAIN = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_SHELL = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, finalize=_quote)


@lru_cache(maxsize=512)
def _compiled(text: str, shell: bool) -> Template:
    return (_SHELL if shell else _PLAIN).from_string(text)


def render(text: str, context: dict[str, Any]) -> str:
    return _compiled(text, False).render(context)


def render_command(text: str, context: dict[str, Any]) -> str:
    """An entrypoint: every substituted value shell-quoted."""
    return _compiled(text, True).render(context)


def sample_context(definition: Any) -> dict[str, Any]:
    """Plausible values of every context name for a trial render (answers: default, first choice, minimum)."""
    answers: dict[str, Any] = {}
    for q in definition.public_answers():
        if q.default is not None:
            answers[q.name] = q.default
        elif q.choices:
            answers[q.name] = q.choices[0].value
        else:
            answers[q.name] = (q.min or 1) if q.kind == "integer" else "sample"
    if definition.volume is not None:
        answers["size"] = definition.volume.default
    exposed = definition.exposure is not None
    return {"name": "app", "owner": "alice.3bot", "email": "alice@example.com", "ssh_key": "",
            "answers": answers, "volume_size": definition.volume.default if definition.volume else 0,
            "domain": "alice3bot-app.example.com" if exposed else "", "url": "https://alice3bot-app.example.com"
            if exposed else "", "threebot_login_url": "https://login.example.com",
            "openkyc_url": "https://kyc.example.com", "test_cert": "false", "ip": "10.100.2.2",
            "workload_id": 1}  # fmt: skip


def check(definition: Any) -> None:
    """Compile and trial-render every template of the definition.

    Raises:
        ValueError: ``<key>: bad template: <reason>`` for the first one that fails.
    """
    sample = sample_context(definition)
    plain = {k: v for k, v in sample.items() if k not in END_ONLY}
    items = [(f"env.{k}", v, False, plain) for k, v in definition.env.items()]
    items += [("entrypoint", definition.entrypoint, True, plain), ("end", definition.end, False, sample)]
    for key, text, shell, context in items:
        try:
            _compiled(text, shell).render(context)
        except TemplateError as exc:  # syntax, undefined name, sandbox refusal (SecurityError is one)
            raise ValueError(f"{key}: bad template: {exc}") from None
        except Exception as exc:  # noqa: BLE001 — e.g. `{{ 1 / 0 }}`, `{{ answers.x + 1 }}` on text
            raise ValueError(f"{key}: bad template: {type(exc).__name__}: {exc}") from None
