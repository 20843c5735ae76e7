"""The CU/SU arithmetic of GRID_API §10 that pools and the deployer share: exact figures, not just signs."""

from __future__ import annotations

from services.common.capacity import Resources, can_carry, cu_su


def test_cu_is_the_smaller_of_memory_over_4_and_cores_over_2() -> None:
    assert cu_su(Resources(cru=1, mru=8)) == (0.5, 0.0)  # cores bound it
    assert cu_su(Resources(cru=4, mru=2)) == (0.5, 0.0)  # memory bounds it
    assert cu_su(Resources(cru=1, mru=1)) == (0.25, 0.0)  # a 1 GiB container is not free


def test_su_weighs_hdd_by_1200_and_ssd_by_300() -> None:
    assert cu_su(Resources(sru=300)) == (0.0, 1.0)
    assert cu_su(Resources(hru=1200)) == (0.0, 1.0)
    assert cu_su(Resources(hru=1200, sru=600)) == (0.0, 3.0)


def test_figures_are_rounded_to_three_decimals() -> None:
    assert cu_su(Resources(cru=1, mru=0.0046)) == (0.001, 0.0)
    assert cu_su(Resources(hru=1)) == (0.0, 0.001)


def test_a_pool_carries_what_it_runs_plus_the_new_load_for_the_duration() -> None:
    # 10 s of (1 CU active + 1 CU new) needs 20 CU-seconds; of (0.5 SU active + 0.5 SU new) needs 10 SU-seconds.
    assert can_carry(20, 10, 1, 0.5, 1, 0.5, 10)
    assert not can_carry(19.9, 10, 1, 0.5, 1, 0.5, 10)
    assert not can_carry(20, 9.9, 1, 0.5, 1, 0.5, 10)
    assert not can_carry(20, 4.9, 1, 0, 1, 0.5, 10)  # the new SU counts, even with none active
