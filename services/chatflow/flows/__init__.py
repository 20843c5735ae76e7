"""Every wizard, one module per solution type (SOLUTIONS §3): ``FLOWS[type]``."""

from __future__ import annotations

from services.chatflow.flow import Flow
from services.chatflow.flows import ubuntu

FLOWS: dict[str, Flow] = {flow.type: flow for flow in (ubuntu.FLOW,)}
