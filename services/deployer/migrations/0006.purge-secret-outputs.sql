-- depends: 0005.node-holds
-- The one-time outputs (the WireGuard config with the laptop's private key) live only while the solution may still
-- hand them out: a solution that failed, is rolled back, is being cancelled or is cancelled never keeps them,
-- whichever code path moves its status. A trigger rather than a rule in each writer: no state write (present or
-- future) can forget it, and a write that sets the outputs together with (or after) a final status is purged too.
CREATE FUNCTION deployer.purge_secret_outputs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.secret_outputs := NULL;
    RETURN NEW;
END
$$;

CREATE TRIGGER solutions_purge_secret_outputs
    BEFORE INSERT OR UPDATE ON deployer.solutions
    FOR EACH ROW
    WHEN (NEW.secret_outputs IS NOT NULL AND NEW.status NOT IN ('submitted', 'planning', 'deploying', 'deployed'))
    EXECUTE FUNCTION deployer.purge_secret_outputs();

-- Left over from before this migration.
UPDATE deployer.solutions SET secret_outputs = NULL
WHERE secret_outputs IS NOT NULL AND status NOT IN ('submitted', 'planning', 'deploying', 'deployed');
