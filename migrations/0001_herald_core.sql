-- Herald's own tables. Portable between CockroachDB and PostgreSQL:
-- UUID keys (no sequences on hot tables), TIMESTAMPTZ, JSONB, partial indexes.

CREATE TABLE IF NOT EXISTS herald_commands (
  id               UUID        PRIMARY KEY,
  domain           TEXT        NOT NULL,
  idempotency_key  TEXT        NOT NULL,
  subject          TEXT        NOT NULL,
  command          TEXT        NOT NULL,
  payload          JSONB       NOT NULL,
  payload_hash     TEXT        NOT NULL,
  status           TEXT        NOT NULL CHECK (status IN ('pending', 'committed', 'rejected')),
  reply            JSONB,
  received_at      TIMESTAMPTZ NOT NULL,
  committed_at     TIMESTAMPTZ,
  attempts         INT         NOT NULL DEFAULT 1,
  trace_id         TEXT,
  span_id          TEXT,
  expires_at       TIMESTAMPTZ NOT NULL,
  CONSTRAINT herald_commands_domain_key UNIQUE (domain, idempotency_key)
);

CREATE INDEX IF NOT EXISTS herald_commands_expires_at ON herald_commands (expires_at);
-- No index on committed_at on purpose: the row's final UPDATE then touches no
-- indexed column (a HOT update in PostgreSQL, fewer write intents in CockroachDB),
-- which measurably cuts serialization conflicts; `herald replay` scans instead.

CREATE TABLE IF NOT EXISTS herald_outbox (
  id                UUID        PRIMARY KEY,
  command_id        UUID        NOT NULL REFERENCES herald_commands (id) ON DELETE CASCADE,
  domain            TEXT        NOT NULL,
  subject           TEXT        NOT NULL,
  type              TEXT        NOT NULL,
  position          INT         NOT NULL,
  data              JSONB       NOT NULL,
  headers           JSONB       NOT NULL,
  created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
  published_at      TIMESTAMPTZ,
  stream_seq        BIGINT,
  publish_attempts  INT         NOT NULL DEFAULT 0,
  lease_until       TIMESTAMPTZ
);

CREATE INDEX IF NOT EXISTS herald_outbox_command ON herald_outbox (command_id, position);
CREATE INDEX IF NOT EXISTS herald_outbox_unpublished ON herald_outbox (domain, created_at) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS herald_outbox_published ON herald_outbox (domain, published_at) WHERE published_at IS NOT NULL;
