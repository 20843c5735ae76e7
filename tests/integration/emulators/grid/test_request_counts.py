"""`GET /_emulator/stats`: the requests answered so far, per method and route template (what `make bench` reads
to count explorer calls per deployment)."""

from __future__ import annotations

from grid_emulator_client import Grid


def _requests(grid: Grid) -> dict[str, int]:
    reply = grid.admin("GET", "/stats")
    assert reply.status == 200, reply.body
    return dict(reply.body["requests"])


def test_counts_each_request_under_its_route_template(grid: Grid) -> None:
    before = _requests(grid)
    nodes = grid.nodes()
    for node in nodes[:3]:
        grid.node(node["node_id"])
    grid.api("GET", "/nodes/no-such-node")  # a 404 is an answer too
    grid.call("GET", "/nowhere")
    after = _requests(grid)

    def delta(key: str) -> int:
        return after.get(key, 0) - before.get(key, 0)

    assert delta("GET /api/v1/nodes") == 1
    assert delta("GET /api/v1/nodes/<node_id>") == 4
    assert delta("GET unrouted") == 1
    # The first read of the stats is counted by the time of the second one.
    assert delta("GET /_emulator/stats") == 1
