-- The bank domain's own table; its worker is the only writer.
CREATE TABLE IF NOT EXISTS bank_accounts (
  id          TEXT        PRIMARY KEY,
  owner       TEXT        NOT NULL,
  balance     BIGINT      NOT NULL CHECK (balance >= 0),
  created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
