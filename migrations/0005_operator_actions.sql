-- What operators did through the console (redrive, replay, prune): who, what,
-- when, and how it ended. Portable between CockroachDB and PostgreSQL: UUID key
-- (no sequence), TIMESTAMPTZ, JSONB. Pruned past its retention like the others.
CREATE TABLE IF NOT EXISTS herald_operator_actions (
  id          UUID        PRIMARY KEY,
  at          TIMESTAMPTZ NOT NULL DEFAULT now(),
  operator    TEXT        NOT NULL,
  action      TEXT        NOT NULL,
  domain      TEXT        NOT NULL,
  target      JSONB       NOT NULL,
  outcome     TEXT        NOT NULL CHECK (outcome IN ('done', 'failed')),
  detail      TEXT        NOT NULL
);

CREATE INDEX IF NOT EXISTS herald_operator_actions_at ON herald_operator_actions (domain, at);
