-- depends: 0002.payment-states
-- The explorer may carry out a pool creation and lose its answer. Before sending one, the pools service notes the
-- newest pool id of ours on the grid ("grid_floor"): the pool an unanswered attempt made, if any, is then found
-- among our pools with a higher id on the same nodes, instead of being bought a second time.
ALTER TABLE pools.reservations ADD COLUMN grid_floor bigint;
CREATE INDEX reservations_floor_idx ON pools.reservations (grid_floor) WHERE grid_floor IS NOT NULL;
