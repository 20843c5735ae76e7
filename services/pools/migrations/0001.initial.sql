-- Capacity pools bought with the marketplace identity, each owned by one marketplace user. Shared by every
-- marketplace instance (the original kept this on one machine's disk).
CREATE TABLE pools.pools (
    id              bigserial PRIMARY KEY,
    owner           text NOT NULL,
    idempotency_key text NOT NULL,
    grid_pool_id    bigint UNIQUE,
    farm_id         bigint NOT NULL,
    farm_name       text NOT NULL,
    node_ids        text[] NOT NULL DEFAULT '{}',
    currency        text NOT NULL CHECK (currency IN ('TFT', 'TFTA', 'FreeTFT')),
    cus_bought      bigint NOT NULL DEFAULT 0 CHECK (cus_bought >= 0),
    sus_bought      bigint NOT NULL DEFAULT 0 CHECK (sus_bought >= 0),
    state           text NOT NULL DEFAULT 'awaiting_payment'
                    CHECK (state IN ('awaiting_payment', 'active', 'expired')),
    state_reason    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (owner, idempotency_key)
);
CREATE INDEX pools_owner_idx ON pools.pools (owner);

-- One row per capacity reservation (creation or extension) and its escrow payment details.
CREATE TABLE pools.reservations (
    id              bigserial PRIMARY KEY,
    pool_id         bigint NOT NULL REFERENCES pools.pools (id) ON DELETE CASCADE,
    idempotency_key text NOT NULL,
    grid_reservation_id bigint UNIQUE,
    cus             bigint NOT NULL CHECK (cus >= 0),
    sus             bigint NOT NULL CHECK (sus >= 0),
    escrow_address  text,
    escrow_asset    text,
    escrow_amount   bigint,
    state           text NOT NULL DEFAULT 'awaiting_payment'
                    CHECK (state IN ('awaiting_payment', 'paid', 'expired')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    UNIQUE (pool_id, idempotency_key)
);
CREATE INDEX reservations_waiting_idx ON pools.reservations (expires_at) WHERE state = 'awaiting_payment';
