-- depends: 0001.initial
-- The node index: one row per grid node as the explorer last showed it (GRID_API §5.4), refreshed by beat, so a
-- node search is one indexed query instead of listing the whole grid (10,000 nodes) on every request.
-- fillfactor leaves room on each page so the refresh, which rewrites every row each minute, can update in place
-- (HOT); for the same reason no index covers a column the refresh changes every time (updated, free_*).
CREATE TABLE deployer.nodes (
    node_id      text PRIMARY KEY,
    farm_id      bigint NOT NULL,
    country      text NOT NULL DEFAULT '',
    city         text NOT NULL DEFAULT '',
    total_cru    double precision NOT NULL DEFAULT 0,
    total_mru    double precision NOT NULL DEFAULT 0,
    total_sru    double precision NOT NULL DEFAULT 0,
    total_hru    double precision NOT NULL DEFAULT 0,
    -- Grid truth after each refresh, plus what this marketplace reserved since (reserve()).
    reserved_cru double precision NOT NULL DEFAULT 0,
    reserved_mru double precision NOT NULL DEFAULT 0,
    reserved_sru double precision NOT NULL DEFAULT 0,
    reserved_hru double precision NOT NULL DEFAULT 0,
    -- free = total - max(0, reserved) (GRID_API §10.4), kept by PostgreSQL so searches compare a column.
    free_cru     double precision GENERATED ALWAYS AS (total_cru - GREATEST(reserved_cru, 0)) STORED,
    free_mru     double precision GENERATED ALWAYS AS (total_mru - GREATEST(reserved_mru, 0)) STORED,
    free_sru     double precision GENERATED ALWAYS AS (total_sru - GREATEST(reserved_sru, 0)) STORED,
    free_hru     double precision GENERATED ALWAYS AS (total_hru - GREATEST(reserved_hru, 0)) STORED,
    -- The node's last heartbeat; it is up while this is at most 10 minutes old.
    updated      timestamptz NOT NULL,
    free_to_use  boolean NOT NULL DEFAULT false,
    -- Public endpoints without prefix (GRID_API §11); both NULL for a hidden node.
    public_ipv4  text,
    public_ipv6  text,
    wg_ports     integer[] NOT NULL DEFAULT '{}',
    refreshed_at timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 70);
-- Pool searches use the primary key (node_id = ANY(...)); these serve the farm and location filters.
CREATE INDEX nodes_farm_idx ON deployer.nodes (farm_id);
CREATE INDEX nodes_location_idx ON deployer.nodes (country, city);

-- When the index was last refreshed from the explorer (one row; none before the first refresh).
CREATE TABLE deployer.node_index (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    refreshed_at timestamptz NOT NULL,
    node_count   integer NOT NULL
);
