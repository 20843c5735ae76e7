"""The shape GridClient hands out whatever form ``result.data_json`` took on the wire (GRID_API §5.8)."""

from __future__ import annotations

import pytest

from services.common.explorer import ExplorerUnavailable
from services.deployer.grid.client import normalise_workload


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ({"Namespace": "5-1", "Port": 9900}, {"Namespace": "5-1", "Port": 9900}),
        ('{"volume_id": "7-1"}', {"volume_id": "7-1"}),
        (None, {}),
        ("", {}),
        ("not json", {}),
        ("[1, 2]", {}),
    ],
)
def test_data_json_is_always_a_dict(wire: object, expected: dict[str, object]) -> None:
    workload = normalise_workload({"id": 5, "result": {"state": 1, "data_json": wire}})
    assert workload["result"] == {"state": 1, "data_json": expected}
    assert workload["id"] == 5


def test_missing_result_becomes_an_empty_one() -> None:
    assert normalise_workload({"id": 5})["result"] == {"data_json": {}}


def test_a_non_object_is_an_explorer_failure() -> None:
    with pytest.raises(ExplorerUnavailable):
        normalise_workload(["not", "a", "workload"])
