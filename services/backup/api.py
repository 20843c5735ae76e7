"""The shapes of the backup API (LOGIN_PROTOCOL §9.1): the ``init`` body ``service.parse_init`` checks, and the
answers."""

from __future__ import annotations

from pydantic import BaseModel, Field, RootModel

from services.backup.service import MAX_PASSWD, NAME


class InitBody(BaseModel):
    """A 3Bot asks for its backup account (``new``: create it; otherwise check the password)."""

    threebot_name: str = Field(pattern=NAME.pattern, description="the 3Bot's phonebook name")
    passwd: str = Field(max_length=MAX_PASSWD, description="base64 of a nonce and a box sealed to the public key")
    new: bool


class PublicKey(RootModel[str]):
    """The marketplace's Curve25519 box public key, base64."""


class Hosts(RootModel[list[str]]):
    """The backup servers' addresses (202 with ``Backup-Pending``: one still has to be completed)."""
