-- Users who logged in with 3Bot Connect, and which terms version they accepted on which grid network.
CREATE TABLE auth.users (
    id          bigserial PRIMARY KEY,
    username    text NOT NULL UNIQUE CHECK (username = lower(username) AND username LIKE '%.3bot'),
    email       text NOT NULL,
    public_key  text NOT NULL,
    explorer_tid bigint,
    first_login timestamptz NOT NULL DEFAULT now(),
    last_login  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE auth.terms_acceptance (
    user_id      bigint NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    grid_network text NOT NULL,
    version      text NOT NULL,
    accepted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, grid_network, version)
);
