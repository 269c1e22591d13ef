-- The orders domain's own table; its worker is the only writer.
-- Portable between CockroachDB and PostgreSQL: TEXT keys chosen by the client
-- (no sequences), JSONB line items, TIMESTAMPTZ.
CREATE TABLE IF NOT EXISTS orders (
  id             TEXT        PRIMARY KEY,
  customer_id    TEXT        NOT NULL,
  status         TEXT        NOT NULL CHECK (status IN ('placed', 'cancelled')),
  items          JSONB       NOT NULL,
  total          BIGINT      NOT NULL CHECK (total >= 0),
  cancel_reason  TEXT,
  placed_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
  cancelled_at   TIMESTAMPTZ
);

-- place_order counts a customer's open orders.
CREATE INDEX IF NOT EXISTS orders_customer_status ON orders (customer_id, status);
