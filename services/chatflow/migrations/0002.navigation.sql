-- depends: 0001.initial
-- Navigation and outcome: the steps visited (for "back"), the deployment a finished wizard submitted, and a
-- "finished" state for wizards that end without a deployment (the pools wizard ends on its payment).
ALTER TABLE chatflow.sessions
    ADD COLUMN history     jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN solution_id uuid;
ALTER TABLE chatflow.sessions DROP CONSTRAINT sessions_status_check;
ALTER TABLE chatflow.sessions ADD CONSTRAINT sessions_status_check
    CHECK (status IN ('open', 'submitted', 'finished', 'abandoned', 'expired'));
CREATE INDEX sessions_stale_idx ON chatflow.sessions (expires_at);
