"""Celery tasks of the deployer worker: submit, advance (the lifecycle), the grid poller, node index refresh,
reconcile."""

from __future__ import annotations

import contextlib

from celery import Celery
from redis import Redis

from services.common import app_contracts, contracts, gateway_contracts, grid_identity
from services.common.db import Database, DatabaseUnavailable
from services.common.explorer import Explorer, ExplorerRejected, ExplorerUnavailable
from services.common.identity import load_identity
from services.common.settings import Settings
from services.common.tasks import define_task
from services.deployer import gateways, lifecycle, poller, readiness, reconcile, service
from services.deployer.context import Deployer
from services.deployer.grid.client import GridClient
from services.deployer.grid.node_finder import ensure_fresh, refresh_index
from services.deployer.service import install_apps


def register(app: Celery, settings: Settings) -> None:
    install_apps(settings)
    identity = load_identity(settings.identity_seed_file, create=settings.is_dev)
    explorer = Explorer(settings, identity)
    # A pass holds one connection for the solution's lock and uses another for its transactions: keep both open
    # (psycopg2's pool closes every connection returned above ``minconn``).
    db = Database(settings.database_url, minconn=3, maxconn=8)
    dep = Deployer(
        db=db,
        grid=GridClient(explorer),
        identity=identity,
        settings=settings,
        celery=app,
        redis=Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5),
    )

    @define_task(app, contracts.DEPLOYER_SUBMIT, contracts.SubmitSolution, time_limit=30,
                 retry_on=(DatabaseUnavailable,))  # fmt: skip
    def submit_solution(payload: contracts.SubmitSolution) -> contracts.SubmitResult:
        result, created = service.submit(db, identity, settings.workload_deadline, payload)
        if result.ok and result.solution_id is not None and created:
            dep.wake(result.solution_id)  # after the commit: the pass reads the row
        return result

    @define_task(app, contracts.DEPLOYER_ADVANCE, contracts.AdvanceSolution, time_limit=240,
                 retry_on=(DatabaseUnavailable,), max_retries=10, retry_backoff_max=30)  # fmt: skip
    def advance_solution(payload: contracts.AdvanceSolution) -> str:
        return lifecycle.advance(dep, payload.solution_id, payload.wake_token)

    # Beat, every DEPLOY_POLL_INTERVAL: short (one listing of the grid), never retried (the next tick is the retry).
    @define_task(app, contracts.DEPLOYER_POLL, contracts.PollGrid, time_limit=120, retry_on=(), max_retries=0)
    def poll_grid(payload: contracts.PollGrid) -> dict[str, int]:
        return poller.poll_grid(dep)

    # Beat, every THREEBOT_READY_INTERVAL: one GET per initialising 3Bot, each with the outbound timeouts.
    @define_task(app, contracts.DEPLOYER_AWAIT_READY, contracts.AwaitReady, time_limit=120, retry_on=(),
                 max_retries=0)  # fmt: skip
    def await_ready(payload: contracts.AwaitReady) -> dict[str, int]:
        return readiness.sweep(dep)

    @define_task(app, contracts.DEPLOYER_REFRESH_NODES, contracts.RefreshNodes, time_limit=120,
                 retry_on=(DatabaseUnavailable, ExplorerUnavailable), max_retries=2)  # fmt: skip
    def refresh_nodes(payload: contracts.RefreshNodes) -> int:
        return refresh_index(db, explorer)

    @define_task(app, contracts.DEPLOYER_RECONCILE, contracts.Reconcile, time_limit=240,
                 retry_on=(DatabaseUnavailable,), max_retries=2)  # fmt: skip
    def reconcile_grid(payload: contracts.Reconcile) -> dict[str, int]:
        return reconcile.reconcile(dep)

    # Questions of the wizards: short, read-only, answered within the asker's QUERY_TIMEOUT.
    @define_task(app, contracts.DEPLOYER_LIST_NETWORKS, contracts.OwnerQuery, time_limit=15)
    def list_networks(payload: contracts.OwnerQuery) -> contracts.Networks:
        return contracts.Networks(networks=service.networks_of(db, payload.owner))

    @define_task(app, contracts.DEPLOYER_APP_CATALOGUE, app_contracts.AppCatalogueQuery, time_limit=15)
    def app_catalogue(payload: app_contracts.AppCatalogueQuery) -> app_contracts.AppCatalogue:
        return app_contracts.AppCatalogue(apps=service.app_catalogue())

    @define_task(app, contracts.DEPLOYER_NAME_FREE, contracts.NameQuery, time_limit=15)
    def name_free(payload: contracts.NameQuery) -> contracts.Answer:
        free = service.name_free(db, payload.owner, payload.type, payload.name)
        return contracts.Answer(ok=free, reason="" if free else f"you already have a {payload.type} named "
                                f"{payload.name!r}; choose another name")  # fmt: skip

    @define_task(app, contracts.DEPLOYER_NODE_CHOICES, contracts.NodeChoicesQuery, time_limit=15)
    def node_choices(payload: contracts.NodeChoicesQuery) -> contracts.NodeChoices:
        # Right after a start, before beat's first refresh, the index may still be empty.
        with contextlib.suppress(ExplorerUnavailable, ExplorerRejected):  # a stale index still answers
            ensure_fresh(db, explorer, max(3 * settings.node_index_refresh, 600))
        return contracts.NodeChoices(node_ids=service.node_choices(db, settings.over_provisioning, payload))

    @define_task(app, contracts.DEPLOYER_FREE_IPS, contracts.FreeIpsQuery, time_limit=15)
    def free_ips(payload: contracts.FreeIpsQuery) -> contracts.FreeIps:
        return contracts.FreeIps(ips=service.free_ips(db, payload.owner, payload.network, payload.node_id))

    @define_task(app, contracts.DEPLOYER_LIST_GATEWAYS, gateway_contracts.GatewaysQuery, time_limit=15)
    def list_gateways(payload: gateway_contracts.GatewaysQuery) -> gateway_contracts.GatewayList:
        grid_ids = {p.pool_id: p.grid_pool_id for p in payload.pools}
        found = gateways.discover(explorer, grid_ids, tuple(grid_ids)) if grid_ids else \
            gateways.discover_among(explorer, payload.node_ids)  # fmt: skip
        offers = [gateway_contracts.GatewayOffer(node_id=g.node_id, pool_id=g.pool_id, grid_pool_id=g.grid_pool_id,
                                                 managed_domains=list(g.managed_domains),
                                                 dns_nameserver=list(g.nameservers), tcp_router_port=g.tcp_router_port,
                                                 continent=g.location[0], country=g.location[1], city=g.location[2])
                  for g in found]  # fmt: skip
        return gateway_contracts.GatewayList(gateways=offers)

    @define_task(app, contracts.DEPLOYER_DOMAIN_FREE, gateway_contracts.DomainQuery, time_limit=15)
    def domain_free(payload: gateway_contracts.DomainQuery) -> contracts.Answer:
        free, reason = gateways.name_free(dep, payload.domain, payload.parent)
        return contracts.Answer(ok=free, reason=reason)

    # The 3Bot wizard's §9.4 check: only the name crosses, the password stays in the chatflow.
    @define_task(app, contracts.DEPLOYER_PHONEBOOK_KEY, contracts.PhonebookQuery, time_limit=15)
    def phonebook_key(payload: contracts.PhonebookQuery) -> contracts.PhonebookKey:
        user = grid_identity.lookup_tid(settings, payload.name)
        return contracts.PhonebookKey(found=user is not None, pubkey=str(user.get("pubkey", "")) if user else "")

    @define_task(app, contracts.DEPLOYER_EXPOSE_TARGETS, gateway_contracts.TargetsQuery, time_limit=15)
    def expose_targets(payload: gateway_contracts.TargetsQuery) -> gateway_contracts.ExposeTargets:
        return gateway_contracts.ExposeTargets(targets=service.expose_targets(db, payload.owner, payload.type))

    @define_task(app, contracts.DEPLOYER_DELEGATED_DOMAINS, contracts.OwnerQuery, time_limit=15)
    def delegated_domains(payload: contracts.OwnerQuery) -> gateway_contracts.DelegatedDomains:
        return gateway_contracts.DelegatedDomains(domains=service.delegated_domains(db, payload.owner))
