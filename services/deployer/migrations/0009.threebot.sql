-- depends: 0008.purge-4to6-key
-- Hosted 3Bots (SOLUTIONS §3.12). The readiness sweep (deployer/readiness.py) looks every few seconds for the
-- deployed ones still "initialising": a small partial index instead of a scan of every deployed solution.
CREATE INDEX solutions_initialising_idx ON deployer.solutions (finished_at)
    WHERE status = 'deployed' AND outputs->>'Status' = 'initialising';

-- The backup password (and the tunnel secret) are only needed to render the container and the reverse proxy, both
-- before the solution is deployed: the moment it leaves the running states its encrypted secrets are emptied,
-- whichever code path writes the status (as for a 4to6 gateway's key, 0008).
CREATE FUNCTION deployer.purge_secrets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.secrets := NULL;
    RETURN NEW;
END
$$;

CREATE TRIGGER solutions_purge_threebot_secrets
    BEFORE INSERT OR UPDATE ON deployer.solutions
    FOR EACH ROW
    WHEN (NEW.type = 'threebot' AND NEW.secrets IS NOT NULL AND NEW.status NOT IN ('submitted', 'planning', 'deploying'))
    EXECUTE FUNCTION deployer.purge_secrets();
