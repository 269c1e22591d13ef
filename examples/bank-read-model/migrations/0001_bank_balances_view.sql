-- A read model of another service: kept up to date from bank_accounts' CDC messages.
CREATE TABLE IF NOT EXISTS bank_balances_view (
  account_id  TEXT   PRIMARY KEY,
  owner       TEXT   NOT NULL,
  balance     BIGINT NOT NULL,
  -- Commit position of the change applied last (LSN or HLC timestamp), for the record.
  position    TEXT   NOT NULL
);
