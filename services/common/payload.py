"""The base of every inter-service payload (``contracts``): frozen, unknown fields rejected, versioned."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class Payload(BaseModel):
    """Base of every task payload: frozen, unknown fields rejected, versioned."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
