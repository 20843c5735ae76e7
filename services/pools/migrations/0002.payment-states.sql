-- depends: 0001.initial
-- A pool row exists from the moment a user asks for it ("submitting"), before the explorer is called, so a
-- request repeated with the same idempotency key finds it; "failed" records an explorer refusal or outage.
ALTER TABLE pools.pools DROP CONSTRAINT pools_state_check;
ALTER TABLE pools.pools ADD CONSTRAINT pools_state_check
    CHECK (state IN ('submitting', 'awaiting_payment', 'active', 'expired', 'failed'));
ALTER TABLE pools.pools ALTER COLUMN state SET DEFAULT 'submitting';
ALTER TABLE pools.pools ADD COLUMN days integer;

ALTER TABLE pools.reservations DROP CONSTRAINT reservations_state_check;
ALTER TABLE pools.reservations ADD CONSTRAINT reservations_state_check
    CHECK (state IN ('submitting', 'awaiting_payment', 'paid', 'expired', 'failed'));
ALTER TABLE pools.reservations ALTER COLUMN state SET DEFAULT 'submitting';
ALTER TABLE pools.reservations ADD COLUMN kind text NOT NULL DEFAULT 'create' CHECK (kind IN ('create', 'extend'));
ALTER TABLE pools.reservations ADD COLUMN currency text;
ALTER TABLE pools.reservations ADD COLUMN state_reason text;
ALTER TABLE pools.reservations ADD COLUMN paid_at timestamptz;
-- For an extension: the pool's balance when the reservation was made, to recognise the credit (SOLUTIONS §7.4).
ALTER TABLE pools.reservations ADD COLUMN baseline_cus double precision;
ALTER TABLE pools.reservations ADD COLUMN baseline_sus double precision;
ALTER TABLE pools.reservations ADD COLUMN baseline_active_cu double precision;
ALTER TABLE pools.reservations ADD COLUMN baseline_active_su double precision;
ALTER TABLE pools.reservations ADD COLUMN baseline_at timestamptz;
DROP INDEX pools.reservations_waiting_idx;
CREATE INDEX reservations_waiting_idx ON pools.reservations (created_at) WHERE state = 'awaiting_payment';
