-- Funds set aside for an order (reserve_funds): moved out of the account's
-- balance, so balance + reserved is what the account holds. One row per
-- reservation id, which the caller chooses (the order id).
CREATE TABLE IF NOT EXISTS bank_reservations (
  id          TEXT        PRIMARY KEY,
  account_id  TEXT        NOT NULL REFERENCES bank_accounts (id),
  amount      BIGINT      NOT NULL CHECK (amount > 0),
  created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
