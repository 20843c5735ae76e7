"""The whole inter-service API: Celery task names and their pydantic payload models.

A message carries ids and an idempotency key, never state (DESIGN "How services talk"). Every payload has a
``version`` so a worker can refuse a message it does not understand instead of misreading it. Task names are
``"<service>.<verb_noun>"`` and run on the queue named after the service (the part before the dot).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Payload(BaseModel):
    """Base of every task payload: frozen, unknown fields rejected, versioned."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1


# -- ping: one per worker queue; proves the wiring (broker → queue → worker → result backend) ---------------

DEPLOYER_PING = "deployer.ping"
POOLS_PING = "pools.ping"
BACKUP_PING = "backup.ping"
PING_TASKS = (DEPLOYER_PING, POOLS_PING, BACKUP_PING)


class Ping(Payload):
    """Ask a worker to answer; ``echo`` comes back unchanged in :class:`Pong`."""

    echo: str = Field(default="", max_length=200)


class Pong(Payload):
    """A worker's answer to :class:`Ping`."""

    service: str
    echo: str
    worker: str


def queue_of(task_name: str) -> str:
    """The queue a task runs on: the service prefix of its name (``"pools.ping"`` → ``"pools"``).

    Raises:
        ValueError: the name does not have the ``<service>.<verb_noun>`` form.
    """
    service, dot, verb = task_name.partition(".")
    if not dot or not service or not verb:
        raise ValueError(f"task name {task_name!r} is not '<service>.<verb_noun>'")
    return service
