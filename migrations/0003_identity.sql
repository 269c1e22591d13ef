-- Identity issuer (docs/identity.md). Portable between CockroachDB and
-- PostgreSQL: UUID keys (no sequences), TIMESTAMPTZ, TEXT.

-- One row per NATS user JWT `herald identity serve` signed: who (OIDC subject
-- and issuer) could act as which role of which domain, with which NKey, until
-- when. Answers "who could publish here last Tuesday". Pruned past retention.
CREATE TABLE IF NOT EXISTS herald_identity_issuances (
  id          UUID        PRIMARY KEY,
  issued_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
  expires_at  TIMESTAMPTZ NOT NULL,
  subject     TEXT        NOT NULL,
  issuer      TEXT        NOT NULL,
  domain      TEXT        NOT NULL,
  role        TEXT        NOT NULL,
  nkey        TEXT        NOT NULL,
  token_id    TEXT
);

CREATE INDEX IF NOT EXISTS herald_identity_issuances_subject ON herald_identity_issuances (subject, expires_at);
CREATE INDEX IF NOT EXISTS herald_identity_issuances_expires_at ON herald_identity_issuances (domain, expires_at);

-- Revoked subjects (tokens issued before revoked_at are refused) and NKeys
-- (refused for good), checked by the issuer before it signs.
CREATE TABLE IF NOT EXISTS herald_identity_revocations (
  id          UUID        PRIMARY KEY,
  kind        TEXT        NOT NULL CHECK (kind IN ('subject', 'key')),
  value       TEXT        NOT NULL,
  revoked_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS herald_identity_revocations_value ON herald_identity_revocations (kind, value);
