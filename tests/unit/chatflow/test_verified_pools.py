"""Every pool a spec names is found for the chatflow's verification (the deployer uses no other pool)."""

from __future__ import annotations

from services.chatflow.service import pool_ids


def test_pool_ids_at_any_depth_and_in_lists() -> None:
    minio = {"name": "s3", "zdb_pool_ids": [3, 4], "primary": {"pool_id": 5}, "secondary": {"pool_id": 3}}
    assert sorted(pool_ids(minio)) == [("pool_id", 3), ("pool_id", 5), ("zdb_pool_ids", 3), ("zdb_pool_ids", 4)]
    monitoring = {"components": [{"where": {"pool_id": 7}}, {"where": {"pool_id": 8, "node_id": "N"}}]}
    assert sorted(pool_ids(monitoring)) == [("pool_id", 7), ("pool_id", 8)]
    assert list(pool_ids({"name": "k", "pool_ids": [1, 2], "network": "net"})) == [("pool_ids", 1), ("pool_ids", 2)]
    assert list(pool_ids({"name": "x", "pool_id": "1"})) == []  # not a pool id: the deployer's model refuses it
