-- Solutions, their workloads on the grid, networks and their address plan, and the events users see.
-- Allocation tables carry unique constraints so concurrent deployments into one network cannot collide.
CREATE TABLE deployer.solutions (
    id              uuid PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    owner           text NOT NULL,
    type            text NOT NULL,
    name            text NOT NULL,
    spec            jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'submitted' CHECK (status IN (
                        'submitted', 'planning', 'deploying', 'deployed', 'failed', 'rolled_back',
                        'cancelling', 'cancelled')),
    outputs         jsonb NOT NULL DEFAULT '{}'::jsonb,
    error           text,
    deadline        timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX solutions_owner_idx ON deployer.solutions (owner, type);
-- A live solution name is unique per owner and type; finished ones free the name.
CREATE UNIQUE INDEX solutions_live_name_idx ON deployer.solutions (owner, type, name)
    WHERE status NOT IN ('failed', 'rolled_back', 'cancelled');
CREATE INDEX solutions_active_idx ON deployer.solutions (deadline)
    WHERE status IN ('submitted', 'planning', 'deploying', 'cancelling');

CREATE TABLE deployer.networks (
    id         bigserial PRIMARY KEY,
    owner      text NOT NULL,
    name       text NOT NULL UNIQUE,
    ip_range   cidr NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX networks_owner_idx ON deployer.networks (owner);

-- One /24 per node (or per external access point) of a network.
CREATE TABLE deployer.network_subnets (
    network_id     bigint NOT NULL REFERENCES deployer.networks (id) ON DELETE CASCADE,
    subnet         cidr NOT NULL,
    node_id        text,
    access_peer    text,
    wg_public_key  text,
    wg_private_key_sealed text,
    wg_listen_port integer,
    PRIMARY KEY (network_id, subnet)
);
CREATE UNIQUE INDEX network_subnets_node_idx ON deployer.network_subnets (network_id, node_id)
    WHERE node_id IS NOT NULL;

CREATE TABLE deployer.ip_allocations (
    network_id  bigint NOT NULL REFERENCES deployer.networks (id) ON DELETE CASCADE,
    ip          inet NOT NULL,
    solution_id uuid REFERENCES deployer.solutions (id) ON DELETE CASCADE,
    PRIMARY KEY (network_id, ip)
);

-- WireGuard listen ports in use per node, across all our networks.
CREATE TABLE deployer.port_allocations (
    node_id    text NOT NULL,
    port       integer NOT NULL CHECK (port BETWEEN 1000 AND 8999),
    network_id bigint NOT NULL REFERENCES deployer.networks (id) ON DELETE CASCADE,
    PRIMARY KEY (node_id, port)
);

CREATE TABLE deployer.workloads (
    id            bigserial PRIMARY KEY,
    solution_id   uuid REFERENCES deployer.solutions (id) ON DELETE CASCADE,
    network_id    bigint REFERENCES deployer.networks (id) ON DELETE SET NULL,
    grid_id       bigint UNIQUE,
    kind          text NOT NULL,
    node_id       text NOT NULL,
    pool_id       bigint NOT NULL,
    body          jsonb NOT NULL,
    state         text NOT NULL DEFAULT 'recorded' CHECK (state IN (
                      'recorded', 'sent', 'deployed', 'failed', 'deleting', 'deleted')),
    result        jsonb,
    deadline      timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workloads_solution_idx ON deployer.workloads (solution_id);
CREATE INDEX workloads_waiting_idx ON deployer.workloads (deadline) WHERE state IN ('recorded', 'sent', 'deleting');

CREATE TABLE deployer.solution_events (
    id          bigserial PRIMARY KEY,
    solution_id uuid NOT NULL REFERENCES deployer.solutions (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    level       text NOT NULL DEFAULT 'info' CHECK (level IN ('info', 'warning', 'error')),
    message     text NOT NULL
);
CREATE INDEX solution_events_solution_idx ON deployer.solution_events (solution_id, id);
