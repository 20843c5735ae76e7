"""The other services' answers a wizard needs (DESIGN "Queries"): Celery calls with a short timeout.

A timeout or a broker outage becomes a 503 with a retryable message, never a hang. Answers that change slowly
(the user's pools and networks, the farms) are cached in Redis for a few seconds, so stepping back and forth
through a form does not ask the same question again. The answers about a user's pools carry the owner's pools
version in their key (bumped by the pools service once a pool's state or capacity changed): a pool paid a moment
ago is offered at once, not when the cached list expires.

Each question actually sent on a user's behalf (not one answered from the cache) is counted first by ``count``
(the app's per-user limit, CHATFLOW_QUERY_RATE_LIMIT per CHATFLOW_RATE_WINDOW): beyond it the request is a 429,
so no user can make the wizard hammer the deployer, the pools service or, through them, the explorer.

A wizard session's step choices (its networks, nodes, free IPs, gateways, farms… — ``SESSION_CHOICES``) are kept
for that session for ``CHOICES_SECONDS`` (issue 16): the view of a step and the answer that validates against the
same choices ask the other service once, and showing the step again (reload, back) asks it not at all. Each is
keyed by its query, so an answer that changes the query (other resources, another pool or node) asks afresh; a
step that acts (``then``: buys a pool) and a restart drop the session's choices. Checks (is this name free?) and
submissions are never kept; the pools lists keep their versioned cache above (a paid pool shows at once).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import structlog
from celery import Celery
from celery.exceptions import TimeoutError as CeleryTimeout
from kombu.exceptions import OperationalError as BrokerError
from pydantic import BaseModel
from redis import Redis
from redis.exceptions import RedisError

from services.common import app_contracts, contracts, gateway_contracts
from services.common.errors import ServiceUnavailable
from services.common.tasks import send

CACHE_SECONDS = 10
CHOICES_SECONDS = 30  # a session's step choices are asked again at most this long after they were read
SESSION_CHOICES = frozenset({
    contracts.POOLS_LIST_FARMS, contracts.POOLS_LIST_APP_FARMS, contracts.DEPLOYER_LIST_NETWORKS,
    contracts.DEPLOYER_NODE_CHOICES, contracts.DEPLOYER_FREE_IPS, contracts.DEPLOYER_EXPOSE_TARGETS,
    contracts.DEPLOYER_DELEGATED_DOMAINS, contracts.DEPLOYER_LIST_GATEWAYS,
})  # fmt: skip
# The answers about one owner's pools: keyed by the owner's pools version (contracts.pools_version_key).
POOL_ANSWERS = frozenset({contracts.POOLS_LIST_CAPABLE, contracts.POOLS_LIST_POOLS})
log = structlog.get_logger(__name__)


@dataclass
class Queries:
    celery: Celery
    redis: Redis
    timeout: float
    count: Callable[[], object] | None = None  # counts one question sent for the caller; raises 429 past the limit
    session_id: str = ""  # the wizard session whose step choices are kept (none: nothing kept per session)

    def for_session(self, session_id: str) -> Queries:
        """These queries, keeping the step choices of wizard session ``session_id``."""
        return replace(self, session_id=session_id)

    def ask(
        self, task: str, payload: BaseModel, what: str, cache: bool = False, per_user: bool = True
    ) -> dict[str, Any]:
        """The answer of ``task`` as a dict (``per_user=False``: the same for everyone, not counted to anyone; a
        session's step choice: kept for the session, see above).

        Raises:
            ServiceUnavailable: no answer within the timeout ("… is unavailable; try again").
            ApiError: 429 when the caller sent too many questions in this window.
        """
        if not self.session_id or task not in SESSION_CHOICES:
            return self._ask(task, payload, what, cache, per_user)
        key, field = f"chatflow:choices:{self.session_id}", f"{task}:{_digest(payload)}"
        try:
            kept = self.redis.hget(key, field)
        except RedisError:
            kept = None
        if kept is not None and time.time() - (entry := json.loads(kept))["at"] < CHOICES_SECONDS:
            return dict(entry["answer"])
        answer = self._ask(task, payload, what, cache, per_user)
        with contextlib.suppress(RedisError):  # an optimisation only
            pipe = self.redis.pipeline(transaction=False)
            pipe.hset(key, field, json.dumps({"at": time.time(), "answer": answer}))
            pipe.expire(key, CHOICES_SECONDS)
            pipe.execute()
        return answer

    def forget_choices(self) -> None:
        """Drop this session's step choices (an answer acted, or the wizard restarts)."""
        if self.session_id:
            with contextlib.suppress(RedisError):  # they expire within CHOICES_SECONDS anyway
                self.redis.delete(f"chatflow:choices:{self.session_id}")

    def _ask(self, task: str, payload: BaseModel, what: str, cache: bool, per_user: bool) -> dict[str, Any]:
        key = ""
        if cache:
            try:
                key = self._key(task, payload)
                cached = self.redis.get(key)
            except RedisError:
                key, cached = "", None  # no version, no cache: ask
            if cached is not None:
                return dict(json.loads(cached))
        if per_user and self.count is not None:
            self.count()
        try:
            answer = send(self.celery, task, payload).get(timeout=self.timeout)
        except (CeleryTimeout, BrokerError, OSError):
            raise ServiceUnavailable(f"{what} did not answer in time; try again in a moment") from None
        except Exception:  # noqa: BLE001 — the task itself failed over there: for the user, the same retryable 503
            log.warning("a query failed in the other service", task=task)
            raise ServiceUnavailable(f"{what} could not answer; try again in a moment") from None
        if not isinstance(answer, dict):
            raise ServiceUnavailable(f"{what} could not answer; try again in a moment")
        if key:
            with contextlib.suppress(RedisError):  # the cache is an optimisation only
                self.redis.set(key, json.dumps(answer), ex=CACHE_SECONDS)
        return answer

    def _key(self, task: str, payload: BaseModel) -> str:
        """The cache key of an answer; for the owner's pools, with the owner's current pools version.

        Raises:
            RedisError: the version cannot be read.
        """
        digest = _digest(payload)
        if task not in POOL_ANSWERS or not isinstance(payload, contracts.CapacityQuery | contracts.OwnerQuery):
            return f"chatflow:answer:{task}:{digest}"
        # Read before asking: a change committed after this read bumps the version, so an answer that may
        # predate it is stored under the old version and never served again.
        version = self.redis.get(contracts.pools_version_key(payload.owner))
        return f"chatflow:answer:{task}:{digest}:v{int(version or 0)}"

    def forget(self, task: str, payload: BaseModel) -> None:
        """Drop a cached answer (after buying a pool, its list changed)."""
        with contextlib.suppress(RedisError):  # it expires on its own within seconds
            self.redis.delete(self._key(task, payload))

    # -- pools ------------------------------------------------------------------------------------------------

    def capable_pools(self, owner: str, cru: float, mru: float, sru: float, hru: float,
                      seconds: int) -> list[contracts.CapablePool]:  # fmt: skip
        query = contracts.CapacityQuery(owner=owner, cru=cru, mru=mru, sru=sru, hru=hru, seconds=seconds)
        answer = self.ask(contracts.POOLS_LIST_CAPABLE, query, "the pools service", cache=True)
        return contracts.CapablePools.model_validate(answer).pools

    def pools(self, owner: str) -> list[contracts.PoolSummary]:
        query = contracts.OwnerQuery(owner=owner)
        answer = self.ask(contracts.POOLS_LIST_POOLS, query, "the pools service", cache=True)
        return contracts.PoolList.model_validate(answer).pools

    def farms(self, currency: str) -> list[contracts.FarmOffer]:
        query = contracts.FarmsQuery(currency=currency)  # type: ignore[arg-type]
        answer = self.ask(contracts.POOLS_LIST_FARMS, query, "the pools service", cache=True)
        return contracts.FarmList.model_validate(answer).farms

    def app_farms(self, currency: str, cru: float, mru: float, sru: float, hru: float) -> list[contracts.FarmOffer]:
        """The farms of ``APP_FARMS`` that accept ``currency`` and have room for an app of this size (§1.10)."""
        query = contracts.AppFarmsQuery(currency=currency, cru=cru, mru=mru, sru=sru, hru=hru)  # type: ignore[arg-type]
        answer = self.ask(contracts.POOLS_LIST_APP_FARMS, query, "the pools service", cache=True)
        return contracts.FarmList.model_validate(answer).farms

    def buy(self, order: contracts.BuyCapacity) -> contracts.Purchase:
        purchase = contracts.Purchase.model_validate(self.ask(contracts.POOLS_BUY, order, "the pools service"))
        self.forget(contracts.POOLS_LIST_POOLS, contracts.OwnerQuery(owner=order.owner))  # the list changed
        return purchase

    # -- deployer ---------------------------------------------------------------------------------------------

    def networks(self, owner: str) -> list[contracts.NetworkInfo]:
        answer = self.ask(contracts.DEPLOYER_LIST_NETWORKS, contracts.OwnerQuery(owner=owner), "the deployer")
        return contracts.Networks.model_validate(answer).networks

    def name_free(self, owner: str, type: str, name: str) -> contracts.Answer:
        query = contracts.NameQuery(owner=owner, type=type, name=name)
        return contracts.Answer.model_validate(self.ask(contracts.DEPLOYER_NAME_FREE, query, "the deployer"))

    def node_choices(self, query: contracts.NodeChoicesQuery) -> list[str]:
        answer = self.ask(contracts.DEPLOYER_NODE_CHOICES, query, "the deployer", cache=True)
        return contracts.NodeChoices.model_validate(answer).node_ids

    def free_ips(self, owner: str, network: str, node_id: str) -> list[str]:
        query = contracts.FreeIpsQuery(owner=owner, network=network, node_id=node_id)
        return contracts.FreeIps.model_validate(self.ask(contracts.DEPLOYER_FREE_IPS, query, "the deployer")).ips

    def expose_targets(self, owner: str, type: str) -> list[gateway_contracts.ExposeTarget]:
        query = gateway_contracts.TargetsQuery(owner=owner, type=type)  # type: ignore[arg-type]
        answer = self.ask(contracts.DEPLOYER_EXPOSE_TARGETS, query, "the deployer")
        return gateway_contracts.ExposeTargets.model_validate(answer).targets

    def delegated_domains(self, owner: str) -> list[gateway_contracts.DelegatedDomain]:
        answer = self.ask(contracts.DEPLOYER_DELEGATED_DOMAINS, contracts.OwnerQuery(owner=owner), "the deployer")
        return gateway_contracts.DelegatedDomains.model_validate(answer).domains

    def app_catalogue(self) -> list[app_contracts.AppInfo]:
        """The deployer's app definitions (cached: they change only when the deployer restarts)."""
        query = app_contracts.AppCatalogueQuery()
        answer = self.ask(contracts.DEPLOYER_APP_CATALOGUE, query, "the deployer", cache=True, per_user=False)
        return app_contracts.AppCatalogue.model_validate(answer).apps

    def submit(self, payload: contracts.SubmitSolution) -> contracts.SubmitResult:
        answer = self.ask(contracts.DEPLOYER_SUBMIT, payload, "the deployer")
        return contracts.SubmitResult.model_validate(answer)

    def gateways(self, owner: str, pools: list[contracts.VerifiedPool],
                 node_ids: list[str] | None = None) -> list[gateway_contracts.GatewayOffer]:  # fmt: skip
        """The gateways usable in the owner's pools (SOLUTIONS §1.9), each with the pool that pays for it; without
        pools, those among ``node_ids`` (a farm's, before its pool is bought; pool 0)."""
        query = gateway_contracts.GatewaysQuery(owner=owner, pools=pools, node_ids=node_ids or [])
        answer = self.ask(contracts.DEPLOYER_LIST_GATEWAYS, query, "the deployer", cache=True)
        return gateway_contracts.GatewayList.model_validate(answer).gateways

    def domain_free(self, owner: str, domain: str, parent: str | None = None) -> contracts.Answer:
        query = gateway_contracts.DomainQuery(owner=owner, domain=domain, parent=parent)
        return contracts.Answer.model_validate(self.ask(contracts.DEPLOYER_DOMAIN_FREE, query, "the deployer"))

    def phonebook_key(self, name: str) -> contracts.PhonebookKey:
        """The explorer identity called ``name`` (found, and its key) — asked of the deployer, which holds the
        explorer client; a hosted 3Bot's backup password is checked against it here (LOGIN_PROTOCOL §9.4)."""
        query = contracts.PhonebookQuery(name=name)
        return contracts.PhonebookKey.model_validate(self.ask(contracts.DEPLOYER_PHONEBOOK_KEY, query, "the deployer"))


def _digest(payload: BaseModel) -> str:
    return hashlib.sha256(payload.model_dump_json().encode()).hexdigest()[:32]
