"""The planners' network hooks: what each solution does to a network (no type branching: test_type_branches.py)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, ClassVar

from services.common.capacity import Resources
from services.deployer.solutions import PLANNERS, network, network_access, ubuntu
from services.deployer.solutions.base import Placed, Placement, PlanContext, Spec, WorkloadPlan, WorkloadView
from services.deployer.solutions.network_use import ORDINARY, NetworkHooks, NetworkUse, network_hooks
from tests.unit.deployer.solutions.conftest import SSH_KEY, context


class Recorder:
    """A :class:`NetworkOps` that writes down what the hooks asked for (the deployer's side is integration-tested
    in tests/integration/deployer/test_wireguard.py and test_lifecycle.py)."""

    def __init__(self, users: list[str] | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.users = users or []

    def create(self, short: str, ip_range: str | None) -> None:
        self.calls.append(("create", short, ip_range))

    def enter(self, short: str) -> None:
        self.calls.append(("enter", short))

    def add_laptop(self, via: str, ipv6: bool) -> str:
        self.calls.append(("add_laptop", via, ipv6))
        return "sealed-config"

    def other_users(self, ignoring: Collection[str] = ()) -> list[str]:
        self.calls.append(("other_users", tuple(ignoring)))
        return self.users

    def revoke_laptop(self) -> None:
        self.calls.append(("revoke_laptop",))

    def delete(self, ending: Collection[str] = ()) -> None:
        self.calls.append(("delete", tuple(ending)))


def _placed(planner: Any, spec: Spec) -> dict[str, Placed]:
    return dict(context(planner, spec).placed)


def _everything(planner: Any, spec: Spec, ops: Recorder) -> str | None:
    """Every hook in the order the deployer calls them: plan, then cancel, then tear down."""
    hooks = network_hooks(planner)
    placements = planner.placements(spec)
    hooks.open_network(spec, planner.network_of(spec), placements, ops)
    access = hooks.grant_access(spec, _placed(planner, spec), ops)
    hooks.leave_network(ops)
    hooks.end_network(ops)
    return access


def test_a_network_creates_itself_hands_out_access_and_deletes_itself_at_the_end() -> None:
    spec = network.NetworkSpec.model_validate({"name": "net", "pool_ids": [3], "ip_range": "10.20.0.0/16"})
    ops = Recorder()
    hooks = network_hooks(network.PLANNER)
    assert hooks.network_use(network.PLANNER.placements(spec)) is NetworkUse.CREATES
    assert _everything(network.PLANNER, spec, ops) == "sealed-config"
    assert ops.calls == [
        ("create", "net", "10.20.0.0/16"),
        ("add_laptop", "node-access", False),
        ("delete", ("network_access",)),
    ]
    assert all(hooks.joins(p) for p in network.PLANNER.placements(spec))  # the access node has no IP, yet joins
    assert hooks.network_nodes(_placed(network.PLANNER, spec)) == {"node-access"}


def test_a_network_refuses_to_be_cancelled_while_others_use_it() -> None:
    hooks, ops = network_hooks(network.PLANNER), Recorder()
    assert hooks.cancel_refusal(ops) is None
    assert ops.calls == [("other_users", ("network_access",))]  # its access points end with it
    refusal = hooks.cancel_refusal(Recorder(["ubuntu box", "minio s3"]))
    assert refusal == "the network is still used by: ubuntu box, minio s3; delete those first"


def test_an_access_point_enters_its_network_and_takes_its_peer_out_on_teardown() -> None:
    spec = network_access.NetworkAccessSpec.model_validate({"name": "phone", "network": "home", "pool_ids": [3],
                                                            "ipv6": True})  # fmt: skip
    ops = Recorder(["ubuntu box"])
    hooks = network_hooks(network_access.PLANNER)
    assert hooks.network_use(network_access.PLANNER.placements(spec)) is NetworkUse.ACCESS
    assert hooks.cancel_refusal(ops) is None
    assert _everything(network_access.PLANNER, spec, ops) == "sealed-config"
    assert ops.calls == [("enter", "home"), ("add_laptop", "node-access", True), ("revoke_laptop",)]
    assert hooks.network_nodes(_placed(network_access.PLANNER, spec)) == {"node-access"}


def test_an_ordinary_planner_enters_its_network_and_needs_only_the_nodes_with_an_ip() -> None:
    spec = ubuntu.UbuntuSpec.model_validate({"name": "box", "where": {"pool_id": 7}, "network": "net",
                                             "ssh_key": SSH_KEY})  # fmt: skip
    ops = Recorder(["x y"])
    hooks = network_hooks(ubuntu.PLANNER)
    assert hooks is ORDINARY
    assert hooks.network_use(ubuntu.PLANNER.placements(spec)) is NetworkUse.MEMBER
    assert _everything(ubuntu.PLANNER, spec, ops) is None and hooks.cancel_refusal(ops) is None
    assert ops.calls == [("enter", "net")]
    placed = {"a": Placed("a", "n1", 1, "10.1.2.2"), "b": Placed("b", "n2", 1, None)}
    assert hooks.network_nodes(placed) == {"n1"}


class _Gateway:
    """A planner that declares no hooks and asks for no network IP (like a gateway): it never touches a network."""

    spec_model: ClassVar[type[Spec]] = Spec
    type: ClassVar[str] = "test_gateway"

    def placements(self, spec: Spec) -> list[Placement]:
        return [Placement("gateway", 3, Resources(), network=False)]

    def network_of(self, spec: Spec) -> str | None:
        return None

    def build(self, spec: Spec, ctx: PlanContext, stage: int) -> list[WorkloadPlan] | None:
        return None

    def listing(self, spec: Spec, workloads: list[WorkloadView]) -> dict[str, Any]:
        return {}

    def outputs(self, spec: Spec, workloads: list[WorkloadView]) -> dict[str, Any]:
        return {}


def test_a_planner_without_hooks_and_without_network_placements_uses_no_network() -> None:
    planner, spec, ops = _Gateway(), Spec(name="gw"), Recorder()
    hooks = network_hooks(planner)
    assert hooks.network_use(planner.placements(spec)) is NetworkUse.NONE
    assert not any(hooks.joins(p) for p in planner.placements(spec))
    assert _everything(planner, spec, ops) is None and ops.calls == []


def test_every_planner_has_network_hooks() -> None:
    assert all(isinstance(network_hooks(p), NetworkHooks) for p in PLANNERS.values())
