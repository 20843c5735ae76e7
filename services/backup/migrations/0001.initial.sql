-- Backup accounts of hosted 3Bots on the two backup servers (the password itself is never stored here).
CREATE TABLE backup.accounts (
    threebot_name  text PRIMARY KEY,
    username       text NOT NULL UNIQUE,
    server1_done   boolean NOT NULL DEFAULT false,
    server2_done   boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    last_verified  timestamptz
);
