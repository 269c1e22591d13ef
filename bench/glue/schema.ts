/**
 * The glue's own tables: what a team hand-writing the pattern would create.
 * Portable between PostgreSQL and CockroachDB. Applied by the bench, not the glue.
 */
export const GLUE_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS glue_accounts (
     id       TEXT   PRIMARY KEY,
     balance  BIGINT NOT NULL CHECK (balance >= 0)
   )`,
  // The idempotency key is claimed first in each transaction and holds the stored reply.
  `CREATE TABLE IF NOT EXISTS glue_idempotency (
     key           TEXT        PRIMARY KEY,
     request_hash  TEXT        NOT NULL,
     status        TEXT        NOT NULL,
     reply         JSONB,
     attempts      INT         NOT NULL DEFAULT 1,
     created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
   )`,
  `CREATE TABLE IF NOT EXISTS glue_outbox (
     id               UUID        PRIMARY KEY,
     idempotency_key  TEXT        NOT NULL,
     subject          TEXT        NOT NULL,
     data             JSONB       NOT NULL,
     created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
     published_at     TIMESTAMPTZ
   )`,
  `CREATE INDEX IF NOT EXISTS glue_outbox_unpublished ON glue_outbox (created_at) WHERE published_at IS NULL`,
];

/** Per-run state the bench clears between runs (accounts stay: their sum is the invariant). */
export const GLUE_RUN_TABLES = ["glue_outbox", "glue_idempotency"];
