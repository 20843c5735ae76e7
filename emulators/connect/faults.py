"""Fault injection for the provider API and the KYC service, switched at start-up or via ``/_emulator/config``.

Shape (every field optional in an update; omitted fields keep their value)::

    {"users": {"missing": ["bob.3bot"], "delay": 0.0, "down": false},
     "kyc":   {"unverified": false, "delay": 0.0, "down": false}}
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from .errors import EmulatorError, FieldError, bad_request
from .persistence import read_json, write_json

# The marketplace gives up after 10 s (LOGIN_PROTOCOL.md §7.3); allow well past that, but not forever.
MAX_DELAY = 300.0


def _lower(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({name.lower() for name in names}))


Delay = Annotated[float, Field(ge=0.0, le=MAX_DELAY)]
Names = Annotated[tuple[Annotated[str, Field(min_length=1, max_length=64)], ...], AfterValidator(_lower)]


class UsersFaults(BaseModel):
    """``GET /api/users/<name>``: 404 for ``missing`` names, sleep ``delay`` seconds, 503 when ``down``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    missing: Names = ()
    delay: Delay = 0.0
    down: bool = False


class KycFaults(BaseModel):
    """``/verification/*``: 500 "Invalid or corrupted signature" when ``unverified``, delay, 503 when down."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    unverified: bool = False
    delay: Delay = 0.0
    down: bool = False


class Faults(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    users: UsersFaults = UsersFaults()
    kyc: KycFaults = KycFaults()


def merge_faults(current: Faults, update: Any) -> Faults:
    """Apply a partial update (a JSON object) to ``current``.

    Raises EmulatorError (400) with one entry per bad field.
    """
    if not isinstance(update, Mapping):
        raise bad_request([FieldError("", "not_object", "the body must be a JSON object")])
    merged: dict[str, Any] = current.model_dump(mode="json")
    for section, values in update.items():
        if section in merged and isinstance(values, Mapping):
            merged[section] = {**merged[section], **values}
        else:
            merged[section] = values  # unknown section or wrong type: let validation report it
    try:
        # Validating JSON text (not Python objects) lets strict mode accept a JSON list for a tuple while
        # still refusing "true" for a bool or "1" for a number.
        return Faults.model_validate_json(json.dumps(merged))
    except ValidationError as exc:
        raise bad_request(
            [
                FieldError(".".join(str(p) for p in err["loc"]), err["type"], err["msg"])
                for err in exc.errors(include_url=False)
            ],
            "Invalid emulator config",
        ) from None


class FaultBoard:
    """The current faults, shared by the request threads; saved to ``config.json`` under the state dir."""

    def __init__(self, path: Path | None, overrides: Mapping[str, Any] | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        saved = read_json(path)
        faults = Faults()
        if saved is not None:
            try:
                faults = merge_faults(Faults(), saved)
            except EmulatorError:  # a stale file from another version only loses test switches
                faults = Faults()
        # Flags given at start-up win over what the previous run saved: the operator just asked for them.
        self._faults = merge_faults(faults, overrides or {})
        write_json(self._path, self._faults.model_dump(mode="json"))

    @property
    def current(self) -> Faults:
        with self._lock:
            return self._faults

    def update(self, changes: Any) -> Faults:
        """Raises EmulatorError (400) on invalid changes; nothing changes then."""
        with self._lock:
            self._faults = merge_faults(self._faults, changes)
            write_json(self._path, self._faults.model_dump(mode="json"))
            return self._faults

    def reset(self) -> Faults:
        with self._lock:
            self._faults = Faults()
            write_json(self._path, self._faults.model_dump(mode="json"))
            return self._faults
