/**
 * The candidate layout: one row per command holding its key, its outcome and
 * its events, next to Herald's real tables (applied by the real migrations).
 * Portable SQL: UUID keys, TIMESTAMPTZ, JSONB, partial indexes, as
 * migrations/0001_herald_core.sql.
 */
export const ONE_ROW_TABLE = "herald_commands_one";

export const ONE_ROW_SCHEMA: readonly string[] = [
  `CREATE TABLE ${ONE_ROW_TABLE} (
     id               UUID        PRIMARY KEY,
     domain           TEXT        NOT NULL,
     idempotency_key  TEXT        NOT NULL,
     subject          TEXT        NOT NULL,
     command          TEXT        NOT NULL,
     payload          JSONB       NOT NULL,
     payload_hash     TEXT        NOT NULL,
     status           TEXT        NOT NULL CHECK (status IN ('committed', 'rejected')),
     reply            JSONB       NOT NULL,
     received_at      TIMESTAMPTZ NOT NULL,
     committed_at     TIMESTAMPTZ NOT NULL,
     attempts         INT         NOT NULL DEFAULT 1,
     trace_id         TEXT,
     span_id          TEXT,
     expires_at       TIMESTAMPTZ NOT NULL,
     -- The command's events in order: [{id, subject, type, data, headers}].
     events           JSONB       NOT NULL,
     published_at     TIMESTAMPTZ,
     -- JetStream sequence of the command's last event (each event's own is in the stream).
     stream_seq       BIGINT,
     CONSTRAINT ${ONE_ROW_TABLE}_domain_key UNIQUE (domain, idempotency_key)
   )`,
  // Retention deletes by expiry; the relay finds unpublished commands; replay and prune of
  // published events go by publication time, as herald_outbox's three indexes serve today.
  `CREATE INDEX ${ONE_ROW_TABLE}_expires_at ON ${ONE_ROW_TABLE} (expires_at)`,
  `CREATE INDEX ${ONE_ROW_TABLE}_unpublished ON ${ONE_ROW_TABLE} (domain, committed_at) WHERE published_at IS NULL`,
  `CREATE INDEX ${ONE_ROW_TABLE}_published ON ${ONE_ROW_TABLE} (domain, published_at) WHERE published_at IS NOT NULL`,
];

/** The business table both layouts write the same way: one balance update per command. */
export const ACCOUNTS_TABLE = "layout_accounts";

/** Accounts each connection owns, so connections never update the same row (largest batch: 32). */
export const ACCOUNTS_PER_CONNECTION = 64;

export function accountsSchema(connections: number, dialect: "postgresql" | "cockroachdb"): string[] {
  return [
    `CREATE TABLE ${ACCOUNTS_TABLE} (id INT PRIMARY KEY, balance BIGINT NOT NULL)`,
    // Room on every page, so a balance update stays on its page (a HOT update) in every layout alike.
    ...(dialect === "postgresql" ? [`ALTER TABLE ${ACCOUNTS_TABLE} SET (fillfactor = 50)`] : []),
    `INSERT INTO ${ACCOUNTS_TABLE} (id, balance) SELECT i, 0 FROM generate_series(0, ${connections * ACCOUNTS_PER_CONNECTION - 1}) AS g (i)`,
  ];
}
