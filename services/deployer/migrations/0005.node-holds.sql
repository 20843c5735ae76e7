-- depends: 0004.access-owner
-- Capacity this marketplace took on a node and the grid may not show yet (GRID_API §5.4: a node reports its
-- usage with a lag). A refresh of the node index adds the live holds to the grid's figure instead of dropping
-- them, so a lagging report never makes a full node look free. A hold lives until the grid has certainly caught
-- up (expires_at), or ends with the deployment that took it when that is rolled back or cancelled.
CREATE TABLE deployer.node_holds (
    id         bigserial PRIMARY KEY,
    node_id    text NOT NULL,
    holder     text NOT NULL,  -- the solution that reserved it
    cru        double precision NOT NULL,
    mru        double precision NOT NULL,
    sru        double precision NOT NULL,
    hru        double precision NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX node_holds_node_idx ON deployer.node_holds (node_id, expires_at);
CREATE INDEX node_holds_holder_idx ON deployer.node_holds (holder);
