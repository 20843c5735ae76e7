"""Recognising an extension's payment from the pool's balance alone (the explorer shows nothing per reservation)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.pools.payment_watch import _pays

T0 = 1_800_000_000


def _waiting(cus: int, seen_cus: float, active_cu: float, seen_at: int = T0) -> dict[str, Any]:
    return {"cus": cus, "sus": 0, "baseline_cus": seen_cus, "baseline_sus": 500.0, "baseline_active_cu": active_cu,
            "baseline_active_su": 0.0, "baseline_at": datetime.fromtimestamp(seen_at, UTC)}  # fmt: skip


def _live(cus: float, active_cu: float, at: int, sus: float = 500.0) -> dict[str, Any]:
    return {"cus": cus, "sus": sus, "active_cu": active_cu, "active_su": 0.0, "last_updated": at}


def test_a_pool_run_dry_is_not_a_payment() -> None:
    # "baseline − burn × elapsed" went to −4000 while the grid stopped at 0: it credited 4000 nobody paid.
    assert not _pays([_waiting(3600, 1000, 1.0)], _live(0, 0.0, T0 + 5000))


def test_a_burn_that_stopped_is_not_a_payment() -> None:
    # The workloads were deleted right after the reservation: the estimate drifts by 10 × 3600 = one purchase.
    assert not _pays([_waiting(36000, 100_000, 10.0)], _live(99_990, 0.0, T0 + 3600))


def test_the_exact_amount_less_the_burn_since_last_seen_is_a_payment() -> None:
    assert _pays([_waiting(36000, 100_000, 1.0)], _live(100_000 + 36000 - 10, 1.0, T0 + 10))
    assert not _pays([_waiting(36000, 100_000, 1.0)], _live(100_000 + 14400 - 10, 1.0, T0 + 10))  # another's
    assert not _pays([_waiting(36000, 100_000, 1.0)], _live(100_000 + 36000, 1.0, T0 + 10, sus=900))  # SU rose too


def test_two_extensions_paid_between_two_looks_are_recognised_together() -> None:
    both = [_waiting(36000, 100_000, 0.0), _waiting(14400, 100_000, 0.0)]
    assert not _pays(both[:1], _live(150_400, 0.0, T0 + 10))
    assert _pays(both, _live(150_400, 0.0, T0 + 10))
