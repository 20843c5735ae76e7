-- depends: 0003.lifecycle
-- An external access point (a laptop's /24) belongs to the solution that added it, so cancelling that solution
-- can take the peer out of the network again.
ALTER TABLE deployer.network_subnets
    ADD COLUMN solution_id uuid REFERENCES deployer.solutions (id) ON DELETE SET NULL;
