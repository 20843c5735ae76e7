-- depends: 0002.nodes
-- The staged lifecycle (DESIGN "Deployment lifecycle"): what was placed where, which stage runs, the encrypted
-- secrets and one-time outputs, and the wake token that keeps exactly one chain of re-checks per solution.
ALTER TABLE deployer.solutions
    ADD COLUMN placed        jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN stage         integer NOT NULL DEFAULT -1,
    ADD COLUMN network_id    bigint REFERENCES deployer.networks (id) ON DELETE SET NULL,
    ADD COLUMN secrets       text,
    ADD COLUMN secret_outputs text,
    ADD COLUMN wake_token    uuid,
    ADD COLUMN listed        boolean NOT NULL DEFAULT true,
    ADD COLUMN finished_at   timestamptz;
CREATE INDEX solutions_network_idx ON deployer.solutions (network_id) WHERE network_id IS NOT NULL;

-- `key` names a workload inside its solution ("container", "zdb-2"); recording is idempotent on it. Network
-- resources have no key: every rewrite of a network adds a new version per node.
ALTER TABLE deployer.workloads
    ADD COLUMN key          text,
    ADD COLUMN role         text,
    ADD COLUMN stage        integer NOT NULL DEFAULT 0,
    ADD COLUMN attempted_at timestamptz,
    ADD COLUMN error        text;
CREATE UNIQUE INDEX workloads_solution_key_idx ON deployer.workloads (solution_id, key) WHERE key IS NOT NULL;
CREATE INDEX workloads_network_node_idx ON deployer.workloads (network_id, node_id, id)
    WHERE kind = 'network_resource';
-- "superseded": a network resource version that a newer one replaced before it was ever sent.
ALTER TABLE deployer.workloads DROP CONSTRAINT workloads_state_check;
ALTER TABLE deployer.workloads ADD CONSTRAINT workloads_state_check CHECK (state IN (
    'recorded', 'sent', 'deployed', 'failed', 'deleting', 'deleted', 'superseded'));

-- The /24 of an external access point remembers which node it enters through; a node's /24 remembers the grid
-- pool that pays for its network resource. A network knows the solution that owns its network resources.
ALTER TABLE deployer.network_subnets ADD COLUMN via_node text, ADD COLUMN grid_pool_id bigint;
ALTER TABLE deployer.networks ADD COLUMN solution_id uuid REFERENCES deployer.solutions (id) ON DELETE SET NULL;
