"""The shapes of the backup API (LOGIN_PROTOCOL §9.1): the ``init`` body (``service.InitBody``, which
``parse_init`` validates with), and the answers."""

from __future__ import annotations

from pydantic import RootModel

from services.backup.service import InitBody

__all__ = ["Hosts", "InitBody", "PublicKey"]


class PublicKey(RootModel[str]):
    """The marketplace's Curve25519 box public key, base64."""


class Hosts(RootModel[list[str]]):
    """The backup servers' addresses (202 with ``Backup-Pending``: one still has to be completed)."""
