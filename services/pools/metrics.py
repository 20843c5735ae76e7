"""The pools' metrics (README "Operating"): reservations awaiting payment (read from PostgreSQL when scraped, by
the pools' web process), payments seen and reservations expired unpaid (counted by the payment watch, in the pools
worker)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from services.common.metrics import enabled, read_database
from services.common.settings import Settings
from services.pools import store

PAYMENTS = Counter("marketplace_pools_payments_seen", "Payments of reservations recognised on the grid")
EXPIRIES = Counter("marketplace_pools_reservations_expired", "Reservations whose escrow expired unpaid")


def settled(paid: int, expired: int) -> None:
    """The payment watch committed ``paid`` payments and ``expired`` expiries."""
    if enabled():
        PAYMENTS.inc(paid)
        EXPIRIES.inc(expired)


class AwaitingPayment(Collector):
    """``marketplace_pools_reservations_awaiting_payment``, read from PostgreSQL at each scrape."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def collect(self) -> Iterator[Metric]:
        waiting = read_database(self.database_url, store.count_awaiting_payment)
        if waiting is not None:
            yield GaugeMetricFamily(
                "marketplace_pools_reservations_awaiting_payment",
                "Reservations (pool purchases and extensions) waiting for their payment",
                value=float(waiting),
            )


def collectors(settings: Settings) -> list[Collector]:
    """What the pools' web process serves besides the samples of its workers."""
    return [AwaitingPayment(settings.database_url)]
