-- How far each consumer has applied its stream: every event at or below
-- applied_seq (a stream sequence) is applied or dead-lettered. Written in the
-- inbox's transaction; read by operators (consumer lag) and tools. One row per
-- durable, so a consumer's instances share it; the value only grows.
CREATE TABLE IF NOT EXISTS herald_consumer_positions (
  consumer     TEXT        PRIMARY KEY,
  stream       TEXT        NOT NULL,
  applied_seq  BIGINT      NOT NULL CHECK (applied_seq >= 0),
  updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Commands a reactor sent that the target domain rejected, one row per key.
CREATE TABLE IF NOT EXISTS herald_reactor_rejections (
  reactor          TEXT        NOT NULL,
  idempotency_key  TEXT        NOT NULL,
  event_id         UUID        NOT NULL,
  subject          TEXT        NOT NULL,
  code             TEXT        NOT NULL,
  message          TEXT        NOT NULL,
  created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (reactor, idempotency_key)
);
