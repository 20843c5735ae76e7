-- depends: 0005.node-holds
-- The pools a solution may use, as the chatflow verified them at submission (our pool id → the grid's): the
-- deployer reads those grid pools itself and trusts no other pool id.
CREATE TABLE deployer.solution_pools (
    solution_id  uuid NOT NULL REFERENCES deployer.solutions (id) ON DELETE CASCADE,
    pool_id      bigint NOT NULL,
    grid_pool_id bigint NOT NULL,
    PRIMARY KEY (solution_id, pool_id)
);

-- One row per grid pool, locked by every planner that puts workloads in it: planners into one pool take turns.
CREATE TABLE deployer.pool_locks (
    grid_pool_id bigint PRIMARY KEY
);

-- The CU/SU per second a planned solution takes from a grid pool before the grid counts it as active. A hold
-- counts while its solution is planning or deploying (and a moment longer, see pool_capacity.py).
CREATE TABLE deployer.pool_holds (
    solution_id  uuid NOT NULL REFERENCES deployer.solutions (id) ON DELETE CASCADE,
    grid_pool_id bigint NOT NULL,
    cu           double precision NOT NULL CHECK (cu >= 0),
    su           double precision NOT NULL CHECK (su >= 0),
    PRIMARY KEY (solution_id, grid_pool_id)
);
CREATE INDEX pool_holds_pool_idx ON deployer.pool_holds (grid_pool_id);
