"""Every wizard, one module per solution type (SOLUTIONS §3): ``FLOWS[type]``, in catalogue order."""

from __future__ import annotations

from services.chatflow.flow import Flow
from services.chatflow.flows import (
    delegated_domain,
    exposed,
    flist,
    gateway4to6,
    gitea,
    gollum,
    kubernetes,
    minio,
    monitoring,
    network,
    pools,
    threebot,
    ubuntu,
)

FLOWS: dict[str, Flow] = {
    flow.type: flow
    for flow in (
        pools.FLOW,
        network.FLOW,
        ubuntu.FLOW,
        flist.FLOW,
        kubernetes.FLOW,
        minio.FLOW,
        monitoring.FLOW,
        gitea.FLOW,
        gollum.FLOW,
        exposed.FLOW,
        delegated_domain.FLOW,
        gateway4to6.FLOW,
        threebot.FLOW,
    )
}
