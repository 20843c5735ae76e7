-- Wizard sessions. Answers are kept after every step so a session survives any process restart; secret answers
-- are stored only encrypted (secret_answers), never in the clear jsonb.
CREATE TABLE chatflow.sessions (
    id             uuid PRIMARY KEY,
    owner          text NOT NULL,
    solution_type  text NOT NULL,
    step           integer NOT NULL DEFAULT 0 CHECK (step >= 0),
    answers        jsonb NOT NULL DEFAULT '{}'::jsonb,
    secret_answers bytea,
    status         text NOT NULL DEFAULT 'open'
                   CHECK (status IN ('open', 'submitted', 'abandoned', 'expired')),
    spec           jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);
CREATE INDEX sessions_owner_idx ON chatflow.sessions (owner, status);
CREATE INDEX sessions_expires_idx ON chatflow.sessions (expires_at) WHERE status = 'open';
