from __future__ import annotations

import pytest

from services.common.capacity import Resources, can_carry, cu_su
from services.common.errors import ApiError
from services.common.grid_price import display_amount
from services.pools.payment import payment_uri
from services.pools.views import Purchase


@pytest.mark.parametrize(("stroops", "text"), [(6670800, "0.66708"), (10_000_000, "1"), (1, "0.0000001"), (0, "0"),
                                               (123_450_000_000, "12345")])  # fmt: skip
def test_amount_is_a_plain_decimal(stroops: int, text: str) -> None:
    assert display_amount(stroops) == text


def test_payment_uri_names_the_code_address_amount_and_memo() -> None:
    reservation = {"escrow_asset": "TFT:GBOVQKJYHXRR3DX6NOX2RRYFRCUMSADGDESTDNBDS6CDVLGVESRTAC47",
                   "escrow_address": "GAESCROW", "escrow_amount": 6670800, "grid_reservation_id": 15}  # fmt: skip
    assert payment_uri(reservation) == "TFT:GAESCROW?amount=0.66708&message=p-15&sender=me"


@pytest.mark.parametrize(
    ("res", "expected"),
    [
        (Resources(cru=1, mru=1), (0.25, 0.0)),  # the original gave 0 CU here
        (Resources(cru=2, mru=4), (1.0, 0.0)),
        (Resources(sru=1), (0.0, 0.003)),
        (Resources(sru=10), (0.0, 0.033)),
        (Resources(hru=1200), (0.0, 1.0)),
    ],
)
def test_corrected_cu_su_formula(res: Resources, expected: tuple[float, float]) -> None:
    assert cu_su(res) == expected


def test_pool_can_carry_is_time_based() -> None:
    # 3600 CU-seconds carry 1 CU for an hour, not for two; what already burns counts.
    assert can_carry(3600, 0, 0, 0, 1, 0, 3600)
    assert not can_carry(3600, 0, 0, 0, 1, 0, 7200)
    assert not can_carry(3600, 0, 0.5, 0, 1, 0, 3600)


def test_purchase_converts_units_and_days_or_totals_to_seconds() -> None:
    assert Purchase(currency="TFT", cu=2, su=1, days=30).seconds() == (2 * 30 * 86400, 30 * 86400)
    assert Purchase(currency="TFT", cu_hours=10, su_hours=5).seconds() == (36000, 18000)
    with pytest.raises(ApiError) as info:
        Purchase(currency="TFT", cu=1).seconds()
    assert [e.field for e in info.value.errors] == ["days"]
