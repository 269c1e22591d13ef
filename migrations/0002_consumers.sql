-- Downstream consumers' tables. Portable between CockroachDB and PostgreSQL:
-- TEXT/UUID keys (no sequences), TIMESTAMPTZ, JSONB.

-- One row per event a consumer applied, written in the same transaction as the
-- consumer's own effects: a redelivered or replayed event finds its row and is
-- acknowledged without running the handler again.
CREATE TABLE IF NOT EXISTS herald_inbox (
  consumer      TEXT        NOT NULL,
  event_id      UUID        NOT NULL,
  processed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, event_id)
);

CREATE INDEX IF NOT EXISTS herald_inbox_processed_at ON herald_inbox (processed_at);

-- Events a consumer gave up on (handler kept failing, or the event was malformed).
-- event_id is TEXT: a malformed event may carry no valid UUID, or none at all.
CREATE TABLE IF NOT EXISTS herald_dead_letters (
  id          UUID        PRIMARY KEY,
  consumer    TEXT        NOT NULL,
  domain      TEXT        NOT NULL,
  event_id    TEXT,
  subject     TEXT        NOT NULL,
  stream_seq  BIGINT,
  data        JSONB,
  headers     JSONB       NOT NULL,
  error       TEXT        NOT NULL,
  deliveries  INT         NOT NULL,
  created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One dead letter per consumer and event, however often a crash repeats the last delivery.
CREATE UNIQUE INDEX IF NOT EXISTS herald_dead_letters_event ON herald_dead_letters (consumer, event_id);
CREATE INDEX IF NOT EXISTS herald_dead_letters_created_at ON herald_dead_letters (domain, created_at);
