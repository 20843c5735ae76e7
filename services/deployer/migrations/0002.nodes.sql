-- depends: 0001.initial
-- The node index: one row per grid node as the explorer last showed it (GRID_API §5.4), refreshed by beat, so a
-- node search is one query on PostgreSQL instead of a listing of the whole grid (10,000 nodes) per request.
--
-- Column order is deliberate: a broad search reads every row, and PostgreSQL reaches the fixed-width NOT NULL
-- columns that come first at fixed offsets, but must walk each variable-width column before a later one. With
-- what searches compare first, a scan of 10,000 nodes takes about half the time.
-- fillfactor leaves room on each page so the refresh, which rewrites every row each minute, updates in place
-- (HOT) and old versions are pruned as pages are read; for the same reason no index covers a column the refresh
-- changes every time (updated, free_*).
CREATE TABLE deployer.nodes (
    -- free = total - max(0, reserved) (GRID_API §10.4), kept by PostgreSQL so searches compare a column.
    free_cru     double precision NOT NULL GENERATED ALWAYS AS (total_cru - GREATEST(reserved_cru, 0)) STORED,
    free_mru     double precision NOT NULL GENERATED ALWAYS AS (total_mru - GREATEST(reserved_mru, 0)) STORED,
    free_sru     double precision NOT NULL GENERATED ALWAYS AS (total_sru - GREATEST(reserved_sru, 0)) STORED,
    free_hru     double precision NOT NULL GENERATED ALWAYS AS (total_hru - GREATEST(reserved_hru, 0)) STORED,
    -- The node's last heartbeat: it is up while this is at most 10 minutes old.
    updated      timestamptz NOT NULL,
    farm_id      bigint NOT NULL,
    free_to_use  boolean NOT NULL DEFAULT false,
    has_ipv4     boolean NOT NULL GENERATED ALWAYS AS (public_ipv4 IS NOT NULL) STORED,
    has_ipv6     boolean NOT NULL GENERATED ALWAYS AS (public_ipv6 IS NOT NULL) STORED,
    node_id      text PRIMARY KEY,
    country      text NOT NULL DEFAULT '',
    city         text NOT NULL DEFAULT '',
    -- Public endpoints without prefix (GRID_API §11); both NULL for a hidden node.
    public_ipv4  text,
    public_ipv6  text,
    wg_ports     integer[] NOT NULL DEFAULT '{}',
    total_cru    double precision NOT NULL DEFAULT 0,
    total_mru    double precision NOT NULL DEFAULT 0,
    total_sru    double precision NOT NULL DEFAULT 0,
    total_hru    double precision NOT NULL DEFAULT 0,
    -- Grid truth after each refresh, plus what this marketplace reserved since (node_finder.reserve).
    reserved_cru double precision NOT NULL DEFAULT 0,
    reserved_mru double precision NOT NULL DEFAULT 0,
    reserved_sru double precision NOT NULL DEFAULT 0,
    reserved_hru double precision NOT NULL DEFAULT 0,
    refreshed_at timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 50);
-- Pool searches use the primary key (node_id = ANY(...)); these serve the farm and location filters.
CREATE INDEX nodes_farm_idx ON deployer.nodes (farm_id);
CREATE INDEX nodes_location_idx ON deployer.nodes (country, city);

-- When the index was last refreshed from the explorer (one row; none before the first refresh).
CREATE TABLE deployer.node_index (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    refreshed_at timestamptz NOT NULL,
    node_count   integer NOT NULL
);
