-- depends: 0007.pool-holds
-- A 4to6 gateway's key pair made by the marketplace (SOLUTIONS §3.11): its private key is kept in the solution's
-- encrypted secrets only while the deployment runs. The moment the solution leaves the running states — deployed
-- (the key is then only in the one-time WireGuard download, written in the same row update), failed, rolled back,
-- cancelled — the secrets are emptied, whichever code path writes the status (nothing renders a 4to6 workload
-- afterwards).
CREATE FUNCTION deployer.purge_4to6_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.secrets := NULL;
    RETURN NEW;
END
$$;

CREATE TRIGGER solutions_purge_4to6_key
    BEFORE INSERT OR UPDATE ON deployer.solutions
    FOR EACH ROW
    WHEN (NEW.type = '4to6gw' AND NEW.secrets IS NOT NULL AND NEW.status NOT IN ('submitted', 'planning', 'deploying'))
    EXECUTE FUNCTION deployer.purge_4to6_key();
