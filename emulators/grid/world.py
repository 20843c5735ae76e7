"""The running emulator's shared objects, and the session every request works in."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import structlog
from flask import current_app

from emulators.grid import lifecycle, nodes
from emulators.grid.clock import Clock
from emulators.grid.config import EmulatorConfig, RuntimeSettings
from emulators.grid.node_agents import EventCounts
from emulators.grid.pools import Escrow
from emulators.grid.seed import SEEDED_KEY, WORLD_SEED_KEY, WorldSize, load_users_file, seed_world
from emulators.grid.store import Store, get_meta

log = structlog.get_logger("grid-emulator")


# Events per write transaction when catching up: a writer waiting behind one batch waits milliseconds.
CATCH_UP_BATCH = 10


@dataclass
class World:
    store: Store
    clock: Clock
    settings: RuntimeSettings
    escrow: Escrow
    applied: EventCounts = field(default_factory=EventCounts)

    @contextmanager
    def session(self) -> Iterator[tuple[sqlite3.Connection, float]]:
        """A write transaction in which the simulated world has been brought up to the current emulator time."""
        with self.store.transaction() as conn:
            now = self.clock.now()
            replayed = lifecycle.advance(conn, now, self.settings.current)
            yield conn, now
        self.applied.add("requests", replayed)

    @contextmanager
    def read_session(self) -> Iterator[tuple[sqlite3.Connection, float]]:
        """A read-only snapshot of the world as of the current emulator time, concurrent with other requests.

        What became due and is not applied yet (the node agents run a little behind, or are not running) is
        applied first, in a short write transaction, and only when something is due: most reads take no write
        lock at all. The block must not write (see Store.read).
        """
        now = self.clock.now()
        with self.store.read() as conn:
            due = lifecycle.next_due(conn)
            if due is None or due > now:
                yield conn, now
                return
        with self.store.transaction() as conn:
            replayed = lifecycle.advance(conn, now, self.settings.current)
        self.applied.add("requests", replayed)
        with self.store.read() as conn:
            yield conn, now

    def catch_up(self, source: str) -> int:
        """Apply what is due now in write transactions of ``CATCH_UP_BATCH`` events; returns how many.

        Nothing due (the usual case): one read, no write lock. ``source`` names who applied them in the counts.
        """
        replay = lifecycle.Replay(self.clock.now())
        with self.store.read() as conn:
            due = lifecycle.next_due(conn)
        if due is None or due > replay.now:
            return 0
        done = False
        while not done and replay.applied < lifecycle.MAX_EVENTS_PER_REPLAY:
            before = replay.applied
            with self.store.transaction() as conn:
                done = lifecycle.step(conn, replay, self.settings.current, CATCH_UP_BATCH)
            self.applied.add(source, replay.applied - before)
        return replay.applied


def open_world(config: EmulatorConfig) -> World:
    """Open (and on first use seed) the state file. Raises ValueError for an unreadable users file."""
    store = Store(config.state_path)
    users = load_users_file(config.users_file) if config.users_file else []
    with store.transaction() as conn:
        size = WorldSize(config.farms, config.nodes, config.gateways)
        if seed_world(conn, config.seed, size, users):
            log.info("seeded new state", path=str(config.state_path), seed=config.seed, **size.__dict__)
        else:
            # Existing state wins: re-seeding would change keys and ids that clients already hold.
            seeded = json.loads(get_meta(conn, SEEDED_KEY) or "{}")
            log.info(
                "opened existing state (world flags are not re-applied)", path=str(config.state_path), seeded=seeded
            )
        world_seed = int(get_meta(conn, WORLD_SEED_KEY) or config.seed)
        clock = Clock.load(conn)
        for node_id in config.down_nodes:
            if not nodes.mark_down(conn, node_id, clock.now()):
                raise ValueError(f"--down-nodes: unknown node id {node_id}")
    return World(store, clock, RuntimeSettings(config.knobs), Escrow(world_seed, config.stellar_network))


def current_world() -> World:
    world: World = current_app.extensions["grid_world"]
    return world
