"""The grid's price of a capacity reservation (GRID_API §4.5): ``741 × cus + 556 × sus`` stroops.

Shared so the apps wizard can show the price of its plan before anything is bought (issue 13), and the pools
service shows the explorer's escrow amount the same way.
"""

from __future__ import annotations

from decimal import Decimal

STROOPS_PER_TOKEN = 10_000_000
STROOPS_PER_CU_SECOND = 741
STROOPS_PER_SU_SECOND = 556


def display_amount(stroops: int) -> str:
    """``6670800`` → ``"0.66708"``: plain decimal, no exponent, no trailing zeros."""
    value = (Decimal(stroops) / STROOPS_PER_TOKEN).normalize()
    return format(value, "f")


def reservation_price(cus: int, sus: int) -> str:
    """What the explorer asks for ``cus`` CU-seconds and ``sus`` SU-seconds, as the QR code will show it."""
    return display_amount(STROOPS_PER_CU_SECOND * cus + STROOPS_PER_SU_SECOND * sus)
