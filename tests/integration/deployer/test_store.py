"""The deployer's owner-scoped solution queries on real PostgreSQL (services/deployer/store.py).

Another owner's solution must read as missing everywhere, and the one-time WireGuard secret goes to its owner once.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg2.errors
import pytest

from services.deployer import store
from tests.conftest import RowLocks


def owner() -> str:
    return f"u{uuid.uuid4().hex[:12]}.3bot"


def solution(cur: Any, who: str, type: str = "ubuntu", name: str | None = None, *, listed: bool = True,
             status: str | None = None) -> dict[str, Any]:  # fmt: skip
    key = uuid.uuid4().hex
    row, created = store.insert_solution(cur, key=key, owner=who, type=type, name=name or "vm", spec={"cpu": 1},
                                         secrets=None, deadline_seconds=600, listed=listed)  # fmt: skip
    assert created
    if status:
        cur.execute("UPDATE deployer.solutions SET status = %s WHERE id = %s", (status, row["id"]))  # test setup
        row = {**row, "status": status}
    return row


def test_a_solution_is_created_once_per_idempotency_key(rollback_cursor: Any) -> None:
    alice = owner()
    key = uuid.uuid4().hex
    row, created = store.insert_solution(rollback_cursor, key=key, owner=alice, type="ubuntu", name="vm",
                                         spec={"cpu": 1}, secrets="s", deadline_seconds=600)  # fmt: skip
    assert created and (row["owner"], row["type"], row["name"], row["spec"], row["secrets"], row["listed"]) == (
        alice, "ubuntu", "vm", {"cpu": 1}, "s", True)  # fmt: skip
    rollback_cursor.execute("SELECT deadline - now() AS left FROM deployer.solutions WHERE id = %s", (row["id"],))
    assert 599 <= rollback_cursor.fetchone()["left"].total_seconds() <= 600
    again, created_again = store.insert_solution(rollback_cursor, key=key, owner=alice, type="ubuntu", name="vm2",
                                                 spec={}, secrets=None, deadline_seconds=1)  # fmt: skip
    assert not created_again and again == row


def test_a_live_name_is_unique_per_owner_and_type(rollback_cursor: Any) -> None:
    alice = owner()
    solution(rollback_cursor, alice, "ubuntu", "vm")
    solution(rollback_cursor, owner(), "ubuntu", "vm")  # another owner may use the name
    solution(rollback_cursor, alice, "minio", "vm")  # so may another type
    assert store.live_name_taken(rollback_cursor, alice, "ubuntu", "vm")
    assert not store.live_name_taken(rollback_cursor, alice, "ubuntu", "other")
    assert not store.live_name_taken(rollback_cursor, owner(), "ubuntu", "vm")
    assert not store.live_name_taken(rollback_cursor, alice, "kubernetes", "vm")
    rollback_cursor.execute("SAVEPOINT dup")
    with pytest.raises(psycopg2.errors.UniqueViolation):
        solution(rollback_cursor, alice, "ubuntu", "vm")
    rollback_cursor.execute("ROLLBACK TO SAVEPOINT dup")


@pytest.mark.parametrize("status", ["failed", "rolled_back", "cancelled"])
def test_a_finished_solution_frees_its_name(rollback_cursor: Any, status: str) -> None:
    alice = owner()
    solution(rollback_cursor, alice, "ubuntu", "vm", status=status)
    assert not store.live_name_taken(rollback_cursor, alice, "ubuntu", "vm")


@pytest.mark.parametrize("status", ["submitted", "planning", "deploying", "deployed", "cancelling"])
def test_a_live_solution_holds_its_name(rollback_cursor: Any, status: str) -> None:
    alice = owner()
    solution(rollback_cursor, alice, "ubuntu", "vm", status=status)
    assert store.live_name_taken(rollback_cursor, alice, "ubuntu", "vm")


def test_another_owners_solution_reads_as_missing(rollback_cursor: Any) -> None:
    alice = owner()
    row = solution(rollback_cursor, alice)
    assert store.solution(rollback_cursor, row["id"], owner=alice)["id"] == row["id"]
    assert store.solution(rollback_cursor, row["id"], owner=owner()) is None
    assert store.solution(rollback_cursor, row["id"])["owner"] == alice  # no owner: the workers' view
    assert store.solution(rollback_cursor, str(uuid.uuid4())) is None


def test_the_owners_listing_and_counts(rollback_cursor: Any) -> None:
    alice = owner()
    first = solution(rollback_cursor, alice, "ubuntu", "one")
    second = solution(rollback_cursor, alice, "ubuntu", "two")
    minio = solution(rollback_cursor, alice, "minio")
    solution(rollback_cursor, alice, "ubuntu", "hidden", listed=False)  # e.g. a network's access point
    solution(rollback_cursor, alice, "ubuntu", "gone", status="cancelled")
    failed = solution(rollback_cursor, alice, "ubuntu", "three", status="failed")  # still shown, with its error
    solution(rollback_cursor, owner(), "ubuntu")
    for age, row in ((3, first), (2, second)):  # one transaction: now() is the same for all rows
        rollback_cursor.execute("UPDATE deployer.solutions SET created_at = now() - make_interval(mins => %s) "
                                "WHERE id = %s", (age, row["id"]))  # fmt: skip
    assert [s["id"] for s in store.solutions_of(rollback_cursor, alice, "ubuntu")] == [
        failed["id"], second["id"], first["id"]]  # fmt: skip
    assert {s["id"] for s in store.solutions_of(rollback_cursor, alice)} == {first["id"], second["id"], minio["id"],
                                                                              failed["id"]}  # fmt: skip
    assert store.count_by_type(rollback_cursor, alice) == {"ubuntu": 3, "minio": 1}
    assert store.count_by_type(rollback_cursor, owner()) == {}


def test_the_one_time_secret_goes_to_its_owner_once(rollback_cursor: Any) -> None:
    alice = owner()
    row = solution(rollback_cursor, alice, "network_access")
    other = solution(rollback_cursor, alice, "network_access", "other")
    store.update_solution(rollback_cursor, row["id"], secret_outputs="[Interface] PrivateKey = k")
    store.update_solution(rollback_cursor, other["id"], secret_outputs="other")
    assert store.take_secret_outputs(rollback_cursor, row["id"], owner()) is None
    assert store.take_secret_outputs(rollback_cursor, row["id"], alice) == "[Interface] PrivateKey = k"
    assert store.take_secret_outputs(rollback_cursor, row["id"], alice) is None
    assert store.take_secret_outputs(rollback_cursor, other["id"], alice) == "other"  # only that one was erased


def test_reading_a_solution_locks_it_only_when_asked(row_locks: RowLocks) -> None:
    one, table = row_locks.one, "deployer.solutions"
    row = row_locks.commit(table, lambda cur: solution(cur, owner()))
    assert store.solution(one, row["id"], owner=row["owner"]) is not None
    assert not row_locks.locked_elsewhere(table, row["id"])
    assert store.solution(one, row["id"], owner=row["owner"], lock=True) is not None
    assert row_locks.locked_elsewhere(table, row["id"])
