/**
 * Every statement shape Herald sends or generates, checked against
 * CockroachDB's documentation. Each group names its row in docs/cockroachdb.md's
 * table (the `id` column there); the two must say the same. A new or changed
 * statement fails test/cockroachdb/statement-list.test.ts, which prints the
 * shapes to paste here once checked. Shapes come from statementShape in
 * test/kit/statement-log.ts.
 */
export interface AuditGroup {
  /** Row id in docs/cockroachdb.md, e.g. `S3`. */
  row: string;
  shapes: readonly string[];
}

export const AUDIT_GROUPS: readonly AuditGroup[] = [
  {
    row: "S1", // dialect detection
    shapes: [
      "SELECT version() AS version",
    ],
  },
  {
    row: "S2", // Kysely's migrator: introspection and its migration table
    shapes: [
      "select \"a\".\"attname\" as \"column\", \"a\".\"attnotnull\" as \"not_null\", \"a\".\"atthasdef\" as \"has_default\", \"c\".\"relname\" as \"table\", \"c\".\"relkind\" as \"table_type\", \"ns\".\"nspname\" as \"schema\", \"typ\".\"typname\" as \"type\", \"dtns\".\"nspname\" as \"type_schema\", col_description(a.attrelid, a.attnum) as \"column_description\", pg_get_serial_sequence(quote_ident(ns.nspname) || '?' || quote_ident(c.relname), a.attname) as \"auto_incrementing\" from \"pg_catalog\".\"pg_attribute\" as \"a\" inner join \"pg_catalog\".\"pg_class\" as \"c\" on \"a\".\"attrelid\" = \"c\".\"oid\" inner join \"pg_catalog\".\"pg_namespace\" as \"ns\" on \"c\".\"relnamespace\" = \"ns\".\"oid\" inner join \"pg_catalog\".\"pg_type\" as \"typ\" on \"a\".\"atttypid\" = \"typ\".\"oid\" inner join \"pg_catalog\".\"pg_namespace\" as \"dtns\" on \"typ\".\"typnamespace\" = \"dtns\".\"oid\" where \"c\".\"relkind\" in ($?, …) and \"ns\".\"nspname\" !~ $? and \"ns\".\"nspname\" != $? and \"ns\".\"nspname\" != $? and has_schema_privilege(ns.nspname, '?') and \"a\".\"attnum\" >= $? and \"a\".\"attisdropped\" != $? order by \"ns\".\"nspname\", \"c\".\"relname\", \"a\".\"attnum\"",
      "create table if not exists \"herald_migration{app}\" (\"name\" varchar(?) not null primary key, \"timestamp\" varchar(?) not null)",
      "create table if not exists \"herald_migration{app}_kysely_lock\" (\"id\" varchar(?) not null primary key, \"is_locked\" integer default ? not null)",
      "select \"id\" from \"herald_migration{app}_kysely_lock\" where \"id\" = $?",
      "insert into \"herald_migration{app}_kysely_lock\" (\"id\", \"is_locked\") values ($?, $?), …",
      "select \"name\", \"timestamp\" from \"herald_migration{app}\"",
      "insert into \"herald_migration{app}\" (\"name\", \"timestamp\") values ($?, $?), …",
    ],
  },
  {
    row: "S3", // the lease migration lock
    shapes: [
      "CREATE TABLE IF NOT EXISTS \"herald_migration{app}_lock\" ( id TEXT PRIMARY KEY, holder TEXT NULL, acquired_at TIMESTAMPTZ NULL, lease_until TIMESTAMPTZ NULL )",
      "INSERT INTO \"herald_migration{app}_lock\" (id) VALUES ($?), … ON CONFLICT (id) DO NOTHING",
      "UPDATE \"herald_migration{app}_lock\" SET holder = $?, acquired_at = now(), lease_until = now() + ($?::INT * INTERVAL '?') WHERE id = $? AND (holder IS NULL OR lease_until < now()) RETURNING holder",
      "UPDATE \"herald_migration{app}_lock\" SET holder = NULL, lease_until = NULL WHERE id = $? AND holder = $?",
      "SELECT holder, acquired_at, lease_until FROM \"herald_migration{app}_lock\" WHERE id = $?",
      "UPDATE \"herald_migration{app}_lock\" SET lease_until = now() + ($?::INT * INTERVAL '?') WHERE id = $? AND holder = $? RETURNING holder",
    ],
  },
  {
    row: "S4", // migrations (Herald's and the examples')
    shapes: [
      "ALTER TABLE orders ADD COLUMN IF NOT EXISTS payment TEXT",
      "CREATE TABLE IF NOT EXISTS bank_reservations ( id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES bank_accounts (id), amount BIGINT NOT NULL CHECK (amount > ?), created_at TIMESTAMPTZ NOT NULL DEFAULT now() )",
      "CREATE TABLE IF NOT EXISTS herald_reactor_rejections ( reactor TEXT NOT NULL, idempotency_key TEXT NOT NULL, event_id UUID NOT NULL, subject TEXT NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (reactor, idempotency_key) )",
      "CREATE TABLE IF NOT EXISTS herald_consumer_positions ( consumer TEXT PRIMARY KEY, stream TEXT NOT NULL, applied_seq BIGINT NOT NULL CHECK (applied_seq >= ?), updated_at TIMESTAMPTZ NOT NULL DEFAULT now() )",
      "CREATE TABLE IF NOT EXISTS herald_commands ( id UUID PRIMARY KEY, domain TEXT NOT NULL, idempotency_key TEXT NOT NULL, subject TEXT NOT NULL, command TEXT NOT NULL, payload JSONB NOT NULL, payload_hash TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('?', '?', '?')), reply JSONB, received_at TIMESTAMPTZ NOT NULL, committed_at TIMESTAMPTZ, attempts INT NOT NULL DEFAULT ?, trace_id TEXT, span_id TEXT, expires_at TIMESTAMPTZ NOT NULL, CONSTRAINT herald_commands_domain_key UNIQUE (domain, idempotency_key) )",
      "CREATE INDEX IF NOT EXISTS herald_commands_expires_at ON herald_commands (expires_at)",
      "CREATE TABLE IF NOT EXISTS herald_outbox ( id UUID PRIMARY KEY, command_id UUID NOT NULL REFERENCES herald_commands (id) ON DELETE CASCADE, domain TEXT NOT NULL, subject TEXT NOT NULL, type TEXT NOT NULL, position INT NOT NULL, data JSONB NOT NULL, headers JSONB NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now(), published_at TIMESTAMPTZ, stream_seq BIGINT, publish_attempts INT NOT NULL DEFAULT ?, lease_until TIMESTAMPTZ )",
      "CREATE INDEX IF NOT EXISTS herald_outbox_command ON herald_outbox (command_id, position)",
      "CREATE INDEX IF NOT EXISTS herald_outbox_unpublished ON herald_outbox (domain, created_at) WHERE published_at IS NULL",
      "CREATE INDEX IF NOT EXISTS herald_outbox_published ON herald_outbox (domain, published_at) WHERE published_at IS NOT NULL",
      "CREATE TABLE IF NOT EXISTS herald_inbox ( consumer TEXT NOT NULL, event_id UUID NOT NULL, processed_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (consumer, event_id) )",
      "CREATE INDEX IF NOT EXISTS herald_inbox_processed_at ON herald_inbox (processed_at)",
      "CREATE TABLE IF NOT EXISTS herald_dead_letters ( id UUID PRIMARY KEY, consumer TEXT NOT NULL, domain TEXT NOT NULL, event_id TEXT, subject TEXT NOT NULL, stream_seq BIGINT, data JSONB, headers JSONB NOT NULL, error TEXT NOT NULL, deliveries INT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now() )",
      "CREATE UNIQUE INDEX IF NOT EXISTS herald_dead_letters_event ON herald_dead_letters (consumer, event_id)",
      "CREATE INDEX IF NOT EXISTS herald_dead_letters_created_at ON herald_dead_letters (domain, created_at)",
      "CREATE TABLE IF NOT EXISTS bank_accounts ( id TEXT PRIMARY KEY, owner TEXT NOT NULL, balance BIGINT NOT NULL CHECK (balance >= ?), created_at TIMESTAMPTZ NOT NULL DEFAULT now(), updated_at TIMESTAMPTZ NOT NULL DEFAULT now() )",
      "CREATE TABLE IF NOT EXISTS orders ( id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('?', '?')), items JSONB NOT NULL, total BIGINT NOT NULL CHECK (total >= ?), cancel_reason TEXT, placed_at TIMESTAMPTZ NOT NULL DEFAULT now(), cancelled_at TIMESTAMPTZ )",
      "CREATE INDEX IF NOT EXISTS orders_customer_status ON orders (customer_id, status)",
      "CREATE TABLE IF NOT EXISTS herald_operator_actions ( id UUID PRIMARY KEY, at TIMESTAMPTZ NOT NULL DEFAULT now(), operator TEXT NOT NULL, action TEXT NOT NULL, domain TEXT NOT NULL, target JSONB NOT NULL, outcome TEXT NOT NULL CHECK (outcome IN ('?', '?')), detail TEXT NOT NULL )",
      "CREATE INDEX IF NOT EXISTS herald_operator_actions_at ON herald_operator_actions (domain, at)",
      "CREATE TABLE IF NOT EXISTS herald_identity_issuances ( id UUID PRIMARY KEY, issued_at TIMESTAMPTZ NOT NULL DEFAULT now(), expires_at TIMESTAMPTZ NOT NULL, subject TEXT NOT NULL, issuer TEXT NOT NULL, domain TEXT NOT NULL, role TEXT NOT NULL, nkey TEXT NOT NULL, token_id TEXT )",
      "CREATE INDEX IF NOT EXISTS herald_identity_issuances_subject ON herald_identity_issuances (subject, expires_at)",
      "CREATE INDEX IF NOT EXISTS herald_identity_issuances_expires_at ON herald_identity_issuances (domain, expires_at)",
      "CREATE TABLE IF NOT EXISTS herald_identity_revocations ( id UUID PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('?', '?')), value TEXT NOT NULL, revoked_at TIMESTAMPTZ NOT NULL DEFAULT now() )",
      "CREATE INDEX IF NOT EXISTS herald_identity_revocations_value ON herald_identity_revocations (kind, value)",
    ],
  },
  {
    row: "S5", // transaction control
    shapes: [
      "START TRANSACTION ISOLATION LEVEL SERIALIZABLE",
      "COMMIT",
      "ROLLBACK",
    ],
  },
  {
    row: "S6", // the lone command's savepoint
    shapes: [
      "SAVEPOINT herald_handler",
      "ROLLBACK TO SAVEPOINT herald_handler",
    ],
  },
  {
    row: "S7", // group commit's lock timeout
    shapes: [
      "SET LOCAL lock_timeout = '?'",
    ],
  },
  {
    row: "S8", // a lone command's outcome, parameters, sent with COMMIT under one Sync
    shapes: [
      "WITH c AS ( INSERT INTO herald_commands (id, domain, idempotency_key, subject, command, payload, payload_hash, status, reply, received_at, committed_at, attempts, trace_id, span_id, expires_at) VALUES ($?::UUID, $?::TEXT, $?::TEXT, $?::TEXT, $?::TEXT, $?::JSONB, $?::TEXT, $?::TEXT, $?::JSONB, $?::TIMESTAMPTZ, $?::TIMESTAMPTZ, $?::INT, $?::TEXT, $?::TEXT, $?::TIMESTAMPTZ), \u2026 RETURNING id) INSERT INTO herald_outbox (id, command_id, domain, subject, type, position, data, headers) SELECT e.id, c.id, $?::TEXT, e.subject, e.type, e.position, e.data::JSONB, e.headers::JSONB FROM c, unnest($?::UUID[], $?::TEXT[], $?::TEXT[], $?::INT[], $?::TEXT[], $?::TEXT[]) AS e (id, subject, type, position, data, headers) RETURNING command_id AS id",
      "INSERT INTO herald_commands (id, domain, idempotency_key, subject, command, payload, payload_hash, status, reply, received_at, committed_at, attempts, trace_id, span_id, expires_at) VALUES ($?::UUID, $?::TEXT, $?::TEXT, $?::TEXT, $?::TEXT, $?::JSONB, $?::TEXT, $?::TEXT, $?::JSONB, $?::TIMESTAMPTZ, $?::TIMESTAMPTZ, $?::INT, $?::TEXT, $?::TEXT, $?::TIMESTAMPTZ), \u2026 RETURNING id",
    ],
  },
  {
    row: "S9", // group commit's key claim (typed arrays through unnest), pipelined behind BEGIN and the lock timeout
    shapes: [
      "INSERT INTO herald_commands (id, domain, idempotency_key, subject, command, payload, payload_hash, status, received_at, attempts, trace_id, span_id, expires_at) SELECT c.id, $?::TEXT, c.idempotency_key, c.subject, c.command, c.payload::JSONB, c.payload_hash, '?', c.received_at, c.attempts, c.trace_id, c.span_id, c.expires_at FROM unnest($?::UUID[], $?::TEXT[], $?::TEXT[], $?::TEXT[], $?::TEXT[], $?::TEXT[], $?::TIMESTAMPTZ[], $?::INT[], $?::TEXT[], $?::TEXT[], $?::TIMESTAMPTZ[]) AS c (id, idempotency_key, subject, command, payload, payload_hash, received_at, attempts, trace_id, span_id, expires_at) ON CONFLICT (domain, idempotency_key) DO NOTHING RETURNING id",
    ],
  },
  {
    row: "S10", // group commit's outcomes and outbox (typed arrays through unnest), sent with COMMIT under one Sync
    shapes: [
      "WITH completed AS ( INSERT INTO herald_commands (id, domain, idempotency_key, subject, command, payload, payload_hash, status, reply, received_at, committed_at, attempts, trace_id, span_id, expires_at) SELECT c.id, $?::TEXT, c.idempotency_key, c.subject, c.command, c.payload::JSONB, c.payload_hash, c.status, c.reply::JSONB, c.received_at, c.committed_at, ?, c.trace_id, c.span_id, c.expires_at FROM unnest($?::UUID[], $?::TEXT[], $?::TEXT[], $?::TEXT[], $?::TEXT[], $?::TEXT[], $?::TEXT[], $?::TEXT[], $?::TIMESTAMPTZ[], $?::TIMESTAMPTZ[], $?::TEXT[], $?::TEXT[], $?::TIMESTAMPTZ[]) AS c (id, idempotency_key, subject, command, payload, payload_hash, status, reply, received_at, committed_at, trace_id, span_id, expires_at) ON CONFLICT (id) DO UPDATE SET status = excluded.status, reply = excluded.reply, committed_at = excluded.committed_at, attempts = ? RETURNING id) INSERT INTO herald_outbox (id, command_id, domain, subject, type, position, data, headers) SELECT e.id, e.command_id, $?::TEXT, e.subject, e.type, e.position, e.data::JSONB, e.headers::JSONB FROM unnest($?::UUID[], $?::UUID[], $?::TEXT[], $?::TEXT[], $?::INT[], $?::TEXT[], $?::TEXT[]) AS e (id, command_id, subject, type, position, data, headers) WHERE e.command_id IN (SELECT id FROM completed)",
      "INSERT INTO herald_commands (id, domain, idempotency_key, subject, command, payload, payload_hash, status, reply, received_at, committed_at, attempts, trace_id, span_id, expires_at) SELECT c.id, $?::TEXT, c.idempotency_key, c.subject, c.command, c.payload::JSONB, c.payload_hash, c.status, c.reply::JSONB, c.received_at, c.committed_at, ?, c.trace_id, c.span_id, c.expires_at FROM unnest($?::UUID[], $?::TEXT[], $?::TEXT[], $?::TEXT[], $?::TEXT[], $?::TEXT[], $?::TEXT[], $?::TEXT[], $?::TIMESTAMPTZ[], $?::TIMESTAMPTZ[], $?::TEXT[], $?::TEXT[], $?::TIMESTAMPTZ[]) AS c (id, idempotency_key, subject, command, payload, payload_hash, status, reply, received_at, committed_at, trace_id, span_id, expires_at) ON CONFLICT (id) DO UPDATE SET status = excluded.status, reply = excluded.reply, committed_at = excluded.committed_at, attempts = ?",
    ],
  },
  {
    row: "S11", // idempotency key look-ups
    shapes: [
      "select \"id\", \"subject\", \"payload_hash\", \"status\", \"reply\" from \"herald_commands\" where \"domain\" = $? and \"idempotency_key\" = $?",
      "select \"id\", \"idempotency_key\", \"subject\", \"payload_hash\", \"status\", \"reply\" from \"herald_commands\" where \"domain\" = $? and \"idempotency_key\" in ($?, …)",
    ],
  },
  {
    row: "S12", // outbox relay lease
    shapes: [
      "UPDATE herald_outbox SET lease_until = now() + ($?::INT * INTERVAL '?') WHERE command_id IN ( SELECT command_id FROM herald_outbox WHERE domain = $? AND published_at IS NULL AND created_at <= now() - ($?::INT * INTERVAL '?') AND command_id NOT IN ( SELECT command_id FROM herald_outbox WHERE domain = $? AND published_at IS NULL AND lease_until >= now()) ORDER BY created_at, command_id, position LIMIT $?) AND domain = $? AND published_at IS NULL RETURNING id, command_id, domain, subject, type, position, data, headers, created_at",
    ],
  },
  {
    row: "S13", // outbox publication bookkeeping
    shapes: [
      "UPDATE herald_outbox AS o SET published_at = now(), stream_seq = v.seq, lease_until = NULL FROM (VALUES ($?::UUID, $?::BIGINT), …) AS v (id, seq) WHERE o.id = v.id AND o.published_at IS NULL",
      "update \"herald_outbox\" set \"publish_attempts\" = \"publish_attempts\" + $?, \"lease_until\" = $? where \"id\" in ($?, …)",
      "select \"id\", \"command_id\", \"domain\", \"subject\", \"type\", \"position\", \"data\", \"headers\" from \"herald_outbox\" where \"command_id\" = $? and \"published_at\" is null order by \"position\"",
    ],
  },
  {
    row: "S14", // consumer inbox and dead letters
    shapes: [
      "INSERT INTO herald_reactor_rejections (reactor, idempotency_key, event_id, subject, code, message) VALUES ($?, $?, $?::UUID, $?, $?, $?), … ON CONFLICT (reactor, idempotency_key) DO NOTHING",
      "select \"event_id\" from \"herald_dead_letters\" where \"consumer\" = $? and \"event_id\" in ($?, …)",
      "select \"event_id\" from \"herald_inbox\" where \"consumer\" = $? and \"event_id\" in ($?, …)",
      "INSERT INTO herald_consumer_positions (consumer, stream, applied_seq, updated_at) VALUES ($?, $?, $?, now()), … ON CONFLICT (consumer) DO UPDATE SET applied_seq = GREATEST(herald_consumer_positions.applied_seq, excluded.applied_seq), stream = excluded.stream, updated_at = now()",
      "INSERT INTO herald_inbox (consumer, event_id) VALUES ($?, $?::UUID), … ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id",
      "INSERT INTO herald_dead_letters (id, consumer, domain, event_id, subject, stream_seq, data, headers, error, deliveries) VALUES ($?::UUID, $?, $?, $?, $?, $?, $?::JSONB, $?::JSONB, $?, $?), … ON CONFLICT (consumer, event_id) DO NOTHING RETURNING id",
      "SELECT id FROM herald_dead_letters WHERE consumer = $? AND event_id = $?",
    ],
  },
  {
    row: "S15", // ops commands: outbox, trace, replay, prune
    shapes: [
      "WITH RECURSIVE d (domain) AS ( (SELECT domain FROM herald_commands ORDER BY domain LIMIT ?) UNION ALL SELECT (SELECT c.domain FROM herald_commands c WHERE c.domain > d.domain ORDER BY c.domain LIMIT ?) FROM d WHERE d.domain IS NOT NULL ) SELECT domain FROM d WHERE domain IS NOT NULL LIMIT $?",
      "SELECT count(*)::BIGINT AS count, (EXTRACT(EPOCH FROM (now() - min(created_at))) * ?)::BIGINT AS oldest_age_ms FROM herald_outbox WHERE domain = $? AND published_at IS NULL",
      "SELECT id, command_id, subject, created_at, publish_attempts, lease_until, (EXTRACT(EPOCH FROM (now() - created_at)) * ?)::BIGINT AS age_ms FROM herald_outbox WHERE domain = $? AND published_at IS NULL ORDER BY created_at, command_id, position LIMIT $?",
      "select * from \"herald_commands\" where \"domain\" = $? and \"idempotency_key\" = $? limit $?",
      "select \"id\", \"subject\", \"type\", \"position\", \"data\", \"created_at\", \"published_at\", \"stream_seq\", \"publish_attempts\" from \"herald_outbox\" where \"command_id\" = $? order by \"position\"",
      "select * from \"herald_commands\" where (\"id\" = $? or \"idempotency_key\" = $?) limit $?",
      "SELECT count(*)::BIGINT AS n FROM herald_outbox o JOIN herald_commands c ON c.id = o.command_id WHERE o.domain = $? AND c.committed_at IS NOT NULL",
      "SELECT o.id, o.command_id, o.subject, o.position, o.data, o.headers, c.committed_at, c.committed_at::TEXT AS cursor_at FROM herald_outbox o JOIN herald_commands c ON c.id = o.command_id WHERE o.domain = $? AND c.committed_at IS NOT NULL ORDER BY c.committed_at, o.command_id, o.position LIMIT $?",
      "SELECT o.id, o.command_id, o.subject, o.position, o.data, o.headers, c.committed_at, c.committed_at::TEXT AS cursor_at FROM herald_outbox o JOIN herald_commands c ON c.id = o.command_id WHERE o.domain = $? AND c.committed_at IS NOT NULL AND (c.committed_at, o.command_id, o.position) > ($?::TIMESTAMPTZ, $?::UUID, $?::INT) ORDER BY c.committed_at, o.command_id, o.position LIMIT $?",
      "SELECT count(*)::BIGINT AS n FROM herald_outbox o JOIN herald_commands c ON c.id = o.command_id WHERE o.domain = $? AND c.committed_at >= $? AND c.committed_at < $? AND o.subject ~ $? AND c.committed_at IS NOT NULL",
      "SELECT o.id, o.command_id, o.subject, o.position, o.data, o.headers, c.committed_at, c.committed_at::TEXT AS cursor_at FROM herald_outbox o JOIN herald_commands c ON c.id = o.command_id WHERE o.domain = $? AND c.committed_at >= $? AND c.committed_at < $? AND o.subject ~ $? AND c.committed_at IS NOT NULL ORDER BY c.committed_at, o.command_id, o.position LIMIT $?",
      "SELECT count(*)::BIGINT AS n FROM \"herald_outbox\" AS \"o\" WHERE o.published_at IS NOT NULL AND o.published_at < now() - ($?::INT * INTERVAL '?')",
      "SELECT count(*)::BIGINT AS n FROM \"herald_commands\" AS \"c\" WHERE c.expires_at < now() AND NOT EXISTS (SELECT ? FROM herald_outbox u WHERE u.command_id = c.id AND u.published_at IS NULL)",
      "SELECT count(*)::BIGINT AS n FROM \"herald_inbox\" AS \"i\" WHERE i.processed_at < now() - ($?::INT * INTERVAL '?')",
      "SELECT count(*)::BIGINT AS n FROM \"herald_dead_letters\" AS \"d\" WHERE d.created_at < now() - ($?::INT * INTERVAL '?')",
      "DELETE FROM \"herald_outbox\" WHERE (\"id\") IN ( SELECT \"o\".\"id\" FROM \"herald_outbox\" AS \"o\" WHERE o.domain = $? AND o.published_at IS NOT NULL AND o.published_at < now() - ($?::INT * INTERVAL '?') LIMIT $?)",
      "DELETE FROM \"herald_commands\" WHERE (\"id\") IN ( SELECT \"c\".\"id\" FROM \"herald_commands\" AS \"c\" WHERE c.domain = $? AND c.expires_at < now() AND NOT EXISTS (SELECT ? FROM herald_outbox u WHERE u.command_id = c.id AND u.published_at IS NULL) LIMIT $?)",
      "DELETE FROM \"herald_inbox\" WHERE (\"consumer\", \"event_id\") IN ( SELECT \"i\".\"consumer\", \"i\".\"event_id\" FROM \"herald_inbox\" AS \"i\" WHERE i.processed_at < now() - ($?::INT * INTERVAL '?') LIMIT $?)",
      "DELETE FROM \"herald_dead_letters\" WHERE (\"id\") IN ( SELECT \"d\".\"id\" FROM \"herald_dead_letters\" AS \"d\" WHERE d.domain = $? AND d.created_at < now() - ($?::INT * INTERVAL '?') LIMIT $?)",
      "SELECT count(*)::BIGINT AS n FROM \"herald_operator_actions\" AS \"a\" WHERE a.at < now() - ($?::INT * INTERVAL '?')",
      "DELETE FROM \"herald_operator_actions\" WHERE (\"id\") IN ( SELECT \"a\".\"id\" FROM \"herald_operator_actions\" AS \"a\" WHERE a.domain = $? AND a.at < now() - ($?::INT * INTERVAL '?') LIMIT $?)",
      "SELECT count(*)::BIGINT AS n FROM \"herald_identity_issuances\" AS \"n\" WHERE n.expires_at < now() - ($?::INT * INTERVAL '?')",
      "DELETE FROM \"herald_identity_issuances\" WHERE (\"id\") IN ( SELECT \"n\".\"id\" FROM \"herald_identity_issuances\" AS \"n\" WHERE n.domain = $? AND n.expires_at < now() - ($?::INT * INTERVAL '?') LIMIT $?)",
      "SELECT count(*)::BIGINT AS n FROM \"herald_reactor_rejections\" AS \"r\" WHERE r.created_at < now() - ($?::INT * INTERVAL '?')",
      "DELETE FROM \"herald_reactor_rejections\" WHERE (\"reactor\", \"idempotency_key\") IN ( SELECT \"r\".\"reactor\", \"r\".\"idempotency_key\" FROM \"herald_reactor_rejections\" AS \"r\" WHERE r.created_at < now() - ($?::INT * INTERVAL '?') LIMIT $?)",
    ],
  },
  {
    row: "S16", // grants audit: catalog reads
    shapes: [
      "SELECT rolname AS name FROM pg_catalog.pg_roles",
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = '?' ORDER BY table_name",
      "SELECT grantee, table_name AS \"table\", privilege_type AS privilege FROM information_schema.role_table_grants WHERE table_schema = current_schema() AND table_catalog = current_database()",
      "SELECT rolname FROM pg_catalog.pg_roles WHERE rolname IN ($?, \u2026)",
    ],
  },
  {
    row: "S17", // generated grants (herald grants)
    shapes: [
      "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE \"herald_commands\", \"herald_outbox\", \"herald_inbox\", \"herald_dead_letters\", \"herald_consumer_positions\", \"herald_reactor_rejections\" TO \"herald_bank_worker\"",
      "CREATE ROLE IF NOT EXISTS \"herald_bank_worker\" WITH LOGIN",
      "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM \"herald_bank_worker\"",
      "GRANT USAGE ON SCHEMA public TO \"herald_bank_worker\"",
      "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE \"bank_accounts\" TO \"herald_bank_worker\"",
      "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '?') THEN CREATE ROLE \"herald_bank_worker\" LOGIN; END IF; END $$",
      "CREATE ROLE IF NOT EXISTS \"herald_bank_console\" WITH LOGIN",
      "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM \"herald_bank_console\"",
      "GRANT USAGE ON SCHEMA public TO \"herald_bank_console\"",
      "GRANT SELECT ON TABLE \"herald_commands\", \"herald_outbox\", \"herald_inbox\", \"herald_dead_letters\", \"herald_consumer_positions\", \"herald_reactor_rejections\", \"herald_operator_actions\" TO \"herald_bank_console\"",
      "GRANT INSERT ON TABLE \"herald_operator_actions\" TO \"herald_bank_console\"",
      "GRANT INSERT ON TABLE \"herald_dead_letters\" TO \"herald_bank_console\"",
      "GRANT DELETE ON TABLE \"herald_commands\" TO \"herald_bank_console\"",
      "GRANT DELETE ON TABLE \"herald_outbox\" TO \"herald_bank_console\"",
      "GRANT DELETE ON TABLE \"herald_inbox\" TO \"herald_bank_console\"",
      "GRANT DELETE ON TABLE \"herald_dead_letters\" TO \"herald_bank_console\"",
      "GRANT DELETE ON TABLE \"herald_operator_actions\" TO \"herald_bank_console\"",
      "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '?') THEN CREATE ROLE \"herald_bank_console\" LOGIN; END IF; END $$",
    ],
  },
  {
    row: "S18", // generated multi-region DDL (herald sql --multi-region)
    shapes: [
      "ALTER TABLE \"herald_reactor_rejections\" SET LOCALITY REGIONAL BY ROW",
      "ALTER TABLE \"herald_consumer_positions\" SET LOCALITY REGIONAL BY ROW",
      "ALTER DATABASE \"defaultdb\" SET PRIMARY REGION \"us-east1\"",
      "ALTER DATABASE \"defaultdb\" ADD REGION \"us-west1\"",
      "ALTER DATABASE \"defaultdb\" ADD REGION \"europe-west1\"",
      "ALTER DATABASE \"defaultdb\" SURVIVE REGION FAILURE",
      "ALTER TABLE \"herald_commands\" SET LOCALITY REGIONAL BY ROW",
      "ALTER TABLE \"herald_outbox\" SET LOCALITY REGIONAL BY ROW",
      "ALTER TABLE \"herald_inbox\" SET LOCALITY REGIONAL BY ROW",
      "ALTER TABLE \"herald_dead_letters\" SET LOCALITY REGIONAL BY ROW",
      "ALTER TABLE \"herald_migration{app}\" SET LOCALITY GLOBAL",
      "ALTER TABLE \"herald_migration{app}_lock\" SET LOCALITY GLOBAL",
      "ALTER TABLE \"herald_migration{app}_kysely_lock\" SET LOCALITY GLOBAL",
      "ALTER TABLE \"herald_operator_actions\" SET LOCALITY GLOBAL",
      "ALTER TABLE \"herald_identity_issuances\" SET LOCALITY REGIONAL BY ROW",
      "ALTER TABLE \"herald_identity_revocations\" SET LOCALITY GLOBAL",
      "ALTER TABLE \"bank_accounts\" SET LOCALITY REGIONAL BY ROW",
    ],
  },
  {
    row: "S19", // example apps' handlers (bank, orders)
    shapes: [
      "update \"orders\" set \"payment\" = $? where \"id\" = $?",
      "select \"payment\" from \"orders\" where \"id\" = $?",
      "insert into \"bank_reservations\" (\"id\", \"account_id\", \"amount\") values ($?, $?, $?), …",
      "update \"bank_accounts\" set \"balance\" = $?, \"updated_at\" = now() where \"id\" = $?",
      "select \"balance\" from \"bank_accounts\" where \"id\" = $?",
      "select \"id\" from \"bank_reservations\" where \"id\" = $?",
      "insert into \"bank_accounts\" (\"id\", \"owner\", \"balance\") values ($?, $?, $?), … on conflict (\"id\") do nothing returning \"id\"",
      "select \"id\", \"balance\" from \"bank_accounts\" where \"id\" in ($?, …)",
      "update \"bank_accounts\" set \"balance\" = \"balance\" + $?, \"updated_at\" = now() where \"id\" = $? returning \"balance\"",
      "select \"id\" from \"orders\" where \"id\" = $?",
      "select count(*) as \"n\" from \"orders\" where \"customer_id\" = $? and \"status\" = $?",
      "insert into \"orders\" (\"id\", \"customer_id\", \"status\", \"items\", \"total\", \"cancel_reason\") values ($?, $?, $?, $?, $?, $?), …",
      "select \"status\" from \"orders\" where \"id\" = $?",
      "update \"orders\" set \"status\" = $?, \"cancel_reason\" = $?, \"cancelled_at\" = now() where \"id\" = $?",
    ],
  },
  {
    row: "S20", // session bounds, queued ahead of a new connection's first statement
    shapes: [
      "SET statement_timeout = ?",
      "SET lock_timeout = ?",
      "SET idle_in_transaction_session_timeout = ?",
    ],
  },
  {
    row: "S21", // generated CDC role (herald grants --cdc, CockroachDB)
    shapes: [
      "CREATE ROLE IF NOT EXISTS \"herald_bank_cdc\" WITH LOGIN",
      "GRANT CHANGEFEED, SELECT ON TABLE \"bank_accounts\" TO \"herald_bank_cdc\"",
    ],
  },
  {
    row: "S22", // generated changefeed (herald cdc setup --source cockroachdb)
    shapes: [
      "SET CLUSTER SETTING kv.rangefeed.enabled = true",
      "CREATE CHANGEFEED FOR TABLE bank_accounts INTO '?' WITH updated, mvcc_timestamp, resolved = '?', min_checkpoint_frequency = '?', diff, webhook_auth_header = '?', webhook_client_timeout = '?', webhook_sink_config = '?'",
    ],
  },
  {
    row: "S23", // license check (herald start, CockroachDB only)
    shapes: [
      "SHOW CLUSTER SETTING enterprise.license",
    ],
  },
  {
    row: "S24", // identity issuer: issuance record, revocations (src/identity/identity-store.ts)
    shapes: [
      "insert into \"herald_identity_issuances\" (\"id\", \"expires_at\", \"subject\", \"issuer\", \"domain\", \"role\", \"nkey\", \"token_id\") values ($?, $?, $?, $?, $?, $?, $?, $?), …",
      "SELECT count(*)::BIGINT AS n FROM herald_identity_revocations WHERE (kind = '?' AND value = $?) OR (kind = '?' AND value = $? AND revoked_at >= $?)",
      "select distinct \"nkey\" from \"herald_identity_issuances\" where \"subject\" = $? and \"expires_at\" > now()",
      "insert into \"herald_identity_revocations\" (\"id\", \"kind\", \"value\") values ($?, $?, $?), …",
    ],
  },
  {
    row: "S25", // database password rotation (herald identity rotate-db, migrate --rotate-credentials)
    shapes: [
      "ALTER ROLE \"herald_bank_worker\" WITH LOGIN PASSWORD '?' VALID UNTIL '?'",
    ],
  },
  {
    row: "S26", // the operator console's reads and actions (herald console, src/operations/)
    shapes: [
      "select \"id\" from \"herald_commands\" where \"domain\" = $? limit $?",
      "SELECT (EXTRACT(EPOCH FROM (expires_at - received_at)) * ?)::BIGINT AS ms FROM herald_commands WHERE domain = $? ORDER BY expires_at DESC LIMIT ?",
      "SELECT c.id, c.command, c.idempotency_key, c.status, c.received_at, c.committed_at, c.attempts, c.received_at::TEXT AS cursor_at FROM herald_commands c WHERE c.domain = $? AND c.expires_at >= $? AND c.expires_at < $? AND c.received_at >= $? AND c.received_at < $? ORDER BY c.received_at DESC, c.id DESC LIMIT $?",
      "SELECT c.id, c.command, c.idempotency_key, c.status, c.received_at, c.committed_at, c.attempts, c.received_at::TEXT AS cursor_at FROM herald_commands c WHERE c.domain = $? AND c.expires_at >= $? AND c.expires_at < $? AND c.received_at >= $? AND c.received_at < $? AND c.command = $? AND c.status = $? AND (c.received_at, c.id) < ($?::TIMESTAMPTZ, $?::UUID) ORDER BY c.received_at DESC, c.id DESC LIMIT $?",
      "SELECT now() AS now",
      "SELECT floor(EXTRACT(EPOCH FROM c.received_at))::BIGINT AS t, count(*) FILTER (WHERE c.status = '?') AS committed, count(*) FILTER (WHERE c.status = '?') AS rejected FROM herald_commands c WHERE c.domain = $? AND c.expires_at >= $? AND c.expires_at < $? AND c.received_at >= $? AND c.received_at < $? GROUP BY ? ORDER BY ?",
      "SELECT sum(c.attempts - ?) AS retries, percentile_disc(?) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM (c.committed_at - c.received_at)) * ?) AS p50, percentile_disc(?) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM (c.committed_at - c.received_at)) * ?) AS p99 FROM herald_commands c WHERE c.domain = $? AND c.expires_at >= $? AND c.expires_at < $? AND c.received_at >= $? AND c.received_at < $? AND c.committed_at IS NOT NULL",
      "SELECT consumer, count(*) AS n, max(created_at) AS newest FROM herald_dead_letters WHERE domain = $? GROUP BY consumer ORDER BY consumer LIMIT $?",
      "select * from \"herald_dead_letters\" where \"domain\" = $? and \"consumer\" = $? order by \"created_at\" desc, \"id\" limit $?",
      "select * from \"herald_dead_letters\" where \"domain\" = $? and \"id\" in ($?, …)",
      "delete from \"herald_dead_letters\" where \"id\" = $?",
      "INSERT INTO herald_dead_letters (id, consumer, domain, event_id, subject, stream_seq, data, headers, error, deliveries, created_at) VALUES ($?::UUID, $?, $?, $?, $?, $?, $?::JSONB, $?::JSONB, $?, $?, $?), … ON CONFLICT (consumer, event_id) DO NOTHING",
      "insert into \"herald_operator_actions\" (\"id\", \"operator\", \"action\", \"domain\", \"target\", \"outcome\", \"detail\") values ($?, $?, $?, $?, $?, $?, $?), …",
      "select * from \"herald_operator_actions\" where \"domain\" = $? order by \"at\" desc limit $?",
      "SELECT s.slot_name, s.active, s.confirmed_flush_lsn::text, pg_current_wal_lsn()::text AS current_lsn, pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint::text AS lag_bytes, pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint::text AS retained_bytes, s.wal_status, (EXTRACT(EPOCH FROM r.flush_lag) * ?)::bigint::text AS flush_lag_ms FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_type = '?' AND s.database = current_database() ORDER BY s.slot_name LIMIT ?",
      "SELECT has_table_privilege($?, '?') AS w",
      "WITH RECURSIVE d (domain) AS ( (SELECT domain FROM herald_commands ORDER BY domain LIMIT ?) UNION ALL SELECT (SELECT c.domain FROM herald_commands c WHERE c.domain > d.domain ORDER BY c.domain LIMIT ?) FROM d WHERE d.domain IS NOT NULL ) SELECT domain FROM d WHERE domain IS NOT NULL LIMIT $?",
    ],
  },
];

export const AUDITED_STATEMENTS: ReadonlyArray<{ row: string; shape: string }> = AUDIT_GROUPS.flatMap((g) => g.shapes.map((shape) => ({ row: g.row, shape })));

const known = new Set(AUDITED_STATEMENTS.map((s) => s.shape));

/** The shapes that are not in the list. */
export function unaudited(shapes: Iterable<string>): string[] {
  return [...shapes].filter((s) => !known.has(s));
}
