import { z } from "zod";

/**
 * Everything Herald reads from the environment, validated once at start.
 * This is the only module that touches `process.env`; the library itself takes
 * plain option objects so it can be embedded and tested without globals.
 */
const intFrom = (min: number, max: number) =>
  z.coerce.number().int().min(min).max(max);

const natsUrl = z
  .string()
  .min(1)
  .refine((value) => value.split(",").every((part) => /^(nats|tls|ws|wss):\/\/[^\s]+$/.test(part.trim())), {
    message: "must be one or more nats://host:port URLs separated by commas",
  });

const databaseUrl = z
  .string()
  .min(1)
  .refine((value) => /^postgres(ql)?:\/\/[^\s]+$/.test(value), {
    message: "must be a postgresql:// URL (CockroachDB and PostgreSQL both use it)",
  });

export const configSchema = z.object({
  /** Database to persist commands in. Default: CockroachDB's insecure single node. */
  DATABASE_URL: databaseUrl.default("postgresql://root@127.0.0.1:26257/defaultdb?sslmode=disable"),
  /** NATS server(s), comma separated. */
  NATS_URL: natsUrl.default("nats://127.0.0.1:4222"),
  /** Largest accepted command body in bytes. Default 64 KiB. */
  HERALD_MAX_PAYLOAD_BYTES: intFrom(1, 8 * 1024 * 1024).default(64 * 1024),
  /** Transaction attempts per command before answering 503 `unavailable`. */
  HERALD_TX_MAX_ATTEMPTS: intFrom(1, 1000).default(20),
  /** Time budget for all attempts of one command (batched ones included), from its arrival, in ms. */
  HERALD_TX_DEADLINE_MS: intFrom(10, 600_000).default(10_000),
  /** First retry backoff cap in ms (full jitter, doubling each attempt). */
  HERALD_TX_BACKOFF_BASE_MS: intFrom(0, 10_000).default(2),
  /** Largest retry backoff in ms. */
  HERALD_TX_BACKOFF_MAX_MS: intFrom(0, 60_000).default(250),
  /** How long idempotency keys (and command records) are kept, in hours (at least 24). */
  HERALD_IDEMPOTENCY_RETENTION_HOURS: intFrom(24, 24 * 365).default(24 * 7),
  /** Database connection pool size per worker. */
  HERALD_DB_POOL_MAX: intFrom(1, 1000).default(10),
  /** Longest a statement may wait for its answer, in ms; then its connection is closed (the server's statement_timeout is 1 s more). 0 turns it off. */
  HERALD_DB_STATEMENT_TIMEOUT_MS: intFrom(0, 600_000).default(5000),
  /** Server-side lock_timeout in ms: a lock wait longer than this fails and the transaction is retried. 0 turns it off. */
  HERALD_DB_LOCK_TIMEOUT_MS: intFrom(0, 600_000).default(2000),
  /** Server-side idle_in_transaction_session_timeout in ms: a session left idle inside a transaction is ended, releasing its locks. 0 turns it off. */
  HERALD_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: intFrom(0, 3_600_000).default(30_000),
  /** Most commands committed in one transaction when requests queue up (group commit); 1 turns it off. */
  HERALD_MAX_BATCH_SIZE: intFrom(1, 1000).default(64),
  /** Most request-body bytes in one group-commit transaction; a larger command goes alone. Default 2 MiB. */
  HERALD_MAX_BATCH_BYTES: intFrom(1024, 64 * 1024 * 1024).default(2 * 1024 * 1024),
  /** node-postgres pipeline mode (BEGIN and a first statement with parameters in one write); `false` is the escape hatch for a server that misbehaves with it. Default true. */
  HERALD_DB_PIPELINE: z.stringbool().default(true),
  /** Commands being processed at once per worker, up to their reply; beyond this requests get 503 `overloaded`. */
  HERALD_MAX_IN_FLIGHT: intFrom(1, 100_000).default(512),
  /** How often the outbox relay looks for unpublished events, in ms. */
  HERALD_OUTBOX_INTERVAL_MS: intFrom(10, 3_600_000).default(1000),
  /** Age an unpublished event must reach before the relay takes it over, in ms. */
  HERALD_OUTBOX_GRACE_MS: intFrom(0, 3_600_000).default(5000),
  /** Events the relay publishes per round. */
  HERALD_OUTBOX_BATCH_SIZE: intFrom(1, 10_000).default(200),
  /** Serve the app under this domain instead of its own (staging, tests). Default: the app's. */
  HERALD_DOMAIN: z.string().regex(/^[a-z0-9_]{1,64}$/, "must be 1-64 characters of a-z, 0-9 and _").optional(),
  /** JetStream stream for the domain's events. Default `<DOMAIN>_EVENTS`. */
  HERALD_STREAM: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
  /** Duplicate window of the event stream a worker creates, in ms: outages shorter than it minus the relay's grace and lease store no second copy. Default 900000 (15 min). */
  HERALD_STREAM_DUPLICATE_WINDOW_MS: intFrom(1000, 7 * 86_400_000).default(900_000),
  /** Time allowed for a graceful stop before in-flight work is abandoned, in ms. */
  HERALD_SHUTDOWN_TIMEOUT_MS: intFrom(0, 600_000).default(15_000),
  /** How long published events stay in the outbox (for trace and replay) before `herald prune` deletes them, in hours. */
  HERALD_EVENT_RETENTION_HOURS: intFrom(1, 24 * 3650).default(24 * 7),
  /** How long a consumer's inbox rows (its "already applied" records) are kept, in hours; keep it longer than any replay. */
  HERALD_INBOX_RETENTION_HOURS: intFrom(1, 24 * 3650).default(24 * 30),
  /** How long dead letters are kept, in hours. */
  HERALD_DEAD_LETTER_RETENTION_HOURS: intFrom(1, 24 * 3650).default(24 * 30),
  /** How long operator actions recorded by the console are kept, in hours. Default 8760 (a year). */
  HERALD_OPERATOR_ACTION_RETENTION_HOURS: intFrom(1, 24 * 3650).default(24 * 365),
  // OpenTelemetry: Herald reads these only to decide whether to start the SDK (it
  // stays off unless an exporter or endpoint variable is set); the SDK reads the
  // other standard OTEL_* variables (service name, sampler, headers...) itself.
  /** `true` turns the SDK off whatever else is set. Default false. */
  OTEL_SDK_DISABLED: z.string().transform((v) => v.trim().toLowerCase() === "true").optional(),
  /** Trace exporters, comma separated: `otlp`, `console` or `none`. Default `otlp` when an OTLP endpoint is set, else none. */
  OTEL_TRACES_EXPORTER: z.string().optional(),
  /** Metric exporters, comma separated: `otlp`, `prometheus` (a scrape endpoint, below), `console` or `none`. Default `otlp` when an OTLP endpoint is set, else none. */
  OTEL_METRICS_EXPORTER: z.string().optional(),
  /** OTLP/HTTP base URL for all signals, e.g. `http://collector:4318`. Default: unset. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
  /** OTLP/HTTP URL for traces only (full path, e.g. `.../v1/traces`). Default: unset. */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.string().url().optional(),
  /** OTLP/HTTP URL for metrics only (full path, e.g. `.../v1/metrics`). Default: unset. */
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: z.string().url().optional(),
  /** Interface of the Prometheus scrape endpoint (`OTEL_METRICS_EXPORTER=prometheus`). Default 127.0.0.1; `0.0.0.0` to be scraped from elsewhere. */
  OTEL_EXPORTER_PROMETHEUS_HOST: z.string().min(1).default("127.0.0.1"),
  /** Port of the Prometheus scrape endpoint (`/metrics`). Default 9464. */
  OTEL_EXPORTER_PROMETHEUS_PORT: intFrom(0, 65_535).default(9464),
  /** Interval between metric exports, in ms. Default 60000. */
  OTEL_METRIC_EXPORT_INTERVAL: intFrom(100, 3_600_000).default(60_000),
  /** Trace every SQL statement too (pg instrumentation), under the transaction attempt spans. Default false. */
  HERALD_OTEL_PG: z.stringbool().default(false),
  // Credentials and TLS. Secret values are never logged or printed; prefer the
  // *_FILE variables, which are read again on every (re)connect so rotated
  // secrets take effect without a restart.
  /** File with the database password, read for every new connection; overrides a password in DATABASE_URL. Default: unset. */
  DATABASE_PASSWORD_FILE: z.string().min(1).optional(),
  /** NATS user name (with NATS_PASSWORD). Default: unset. */
  NATS_USER: z.string().min(1).optional(),
  /** NATS password of NATS_USER. Default: unset. */
  NATS_PASSWORD: z.string().min(1).optional(),
  /** NATS token authentication. Default: unset. */
  NATS_TOKEN: z.string().min(1).optional(),
  /** File with a NATS NKey user seed (`SU...`). Default: unset. */
  NATS_NKEY_SEED_FILE: z.string().min(1).optional(),
  /** NATS `.creds` file (user JWT and seed) for decentralized auth. Default: unset. */
  NATS_CREDS_FILE: z.string().min(1).optional(),
  /** CA certificate (PEM) to verify the NATS server with; turns TLS on. Default: unset (system CAs when TLS is on). */
  NATS_TLS_CA_FILE: z.string().min(1).optional(),
  /** Client certificate (PEM) for NATS mutual TLS, with NATS_TLS_KEY_FILE. Default: unset. */
  NATS_TLS_CERT_FILE: z.string().min(1).optional(),
  /** Key (PEM) of NATS_TLS_CERT_FILE. Default: unset. */
  NATS_TLS_KEY_FILE: z.string().min(1).optional(),
  // Change data capture (`herald cdc`, docs/cdc.md).
  /** Which database `herald cdc` reads: `postgres` (logical replication) or `cockroachdb` (changefeed webhook). Default postgres. */
  HERALD_CDC_SOURCE: z.enum(["postgres", "cockroachdb"]).default("postgres"),
  /** Tables whose row changes the bridge streams, comma separated (`bank_accounts,public.orders`). Default: unset (`herald cdc` then needs `--table`). */
  HERALD_CDC_TABLES: z.string().regex(/^[a-z0-9_.]+(\s*,\s*[a-z0-9_.]+)*$/, "must be table names separated by commas").optional(),
  /** Database the PostgreSQL source reads; its user needs the REPLICATION attribute. Default: DATABASE_URL. */
  HERALD_CDC_DATABASE_URL: databaseUrl.optional(),
  /** Logical replication slot of the PostgreSQL source. Default `herald_cdc`. */
  HERALD_CDC_SLOT: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be 1-63 characters of a-z, 0-9 and _").default("herald_cdc"),
  /** Publication the slot decodes. Default `herald_cdc`. */
  HERALD_CDC_PUBLICATION: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be 1-63 characters of a-z, 0-9 and _").default("herald_cdc"),
  /** JetStream stream for `<domain>.cdc.>`. Default `<DOMAIN>_CDC` (created when missing). */
  HERALD_CDC_STREAM: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
  /** Duplicate window of a CDC stream the bridge creates, in ms: redeliveries older than this are not dropped. Default 600000 (10 min). */
  HERALD_CDC_DUPLICATE_WINDOW_MS: intFrom(1000, 7 * 86_400_000).default(600_000),
  /** Publishes awaiting their PubAck, at most; past it the bridge stops reading the replication socket. Default 4096. */
  HERALD_CDC_MAX_IN_FLIGHT: intFrom(1, 1_000_000).default(4096),
  /** `herald cdc status` exits 3 when the slot keeps more WAL than this, in MiB. Default 1024. */
  HERALD_CDC_MAX_RETAINED_MB: intFrom(1, 10_000_000).default(1024),
  // CDC from CockroachDB: the changefeed webhook endpoint (`herald cdc start --source cockroachdb`).
  /** Interface the webhook listens on; `0.0.0.0` to be reachable from CockroachDB's nodes. Default 127.0.0.1. */
  HERALD_CDC_WEBHOOK_HOST: z.string().min(1).default("127.0.0.1"),
  /** Port of the webhook (HTTPS). Default 8443. */
  HERALD_CDC_WEBHOOK_PORT: intFrom(0, 65_535).default(8443),
  /** Path the changefeed posts to (the sink URI's path). Default /changefeed. */
  HERALD_CDC_WEBHOOK_PATH: z.string().regex(/^\/[A-Za-z0-9._~\/-]*$/, "must be a URL path starting with /").default("/changefeed"),
  /** Server certificate (PEM) of the webhook. Required for the CockroachDB source. */
  HERALD_CDC_WEBHOOK_CERT_FILE: z.string().min(1).optional(),
  /** Key (PEM) of HERALD_CDC_WEBHOOK_CERT_FILE. Required for the CockroachDB source. */
  HERALD_CDC_WEBHOOK_KEY_FILE: z.string().min(1).optional(),
  /** The exact Authorization value the changefeed sends (its `webhook_auth_header`). Default: unset (then the file below). */
  HERALD_CDC_WEBHOOK_AUTH_HEADER: z.string().min(1).optional(),
  /** File holding that Authorization value, to keep it out of the environment. Default: unset. */
  HERALD_CDC_WEBHOOK_AUTH_HEADER_FILE: z.string().min(1).optional(),
  /** Largest changefeed request body in bytes (413 past it). Default 8 MiB. */
  HERALD_CDC_WEBHOOK_MAX_BODY_BYTES: intFrom(1024, 256 * 1024 * 1024).default(8 * 1024 * 1024),
  /** How long a request waits for the JetStream acks before it gets 503 (keep below `webhook_client_timeout`), in ms. Default 8000. */
  HERALD_CDC_WEBHOOK_REPLY_TIMEOUT_MS: intFrom(100, 600_000).default(8000),
  /** The webhook's URL as CockroachDB's nodes reach it, for `herald cdc setup`. Default `https://localhost:<PORT><PATH>`. */
  HERALD_CDC_WEBHOOK_URL: z.string().regex(/^https:\/\/[^\s'?#]+$/, "must be an https:// URL without query").optional(),
  /** CA (PEM) that signed the webhook's certificate, for the changefeed's `ca_cert` (`herald cdc setup`). Default: HERALD_CDC_WEBHOOK_CERT_FILE (a self-signed certificate). */
  HERALD_CDC_WEBHOOK_CA_FILE: z.string().min(1).optional(),
  /** Primary-key columns of watched tables whose key is not `id`: `table:col+col,...`. Default: unset (every key is `id`). */
  HERALD_CDC_WEBHOOK_KEYS: z.string().regex(/^[a-z_][a-z0-9_]*:[a-z_][a-z0-9_]*(\+[a-z_][a-z0-9_]*)*(,[a-z_][a-z0-9_]*:[a-z_][a-z0-9_]*(\+[a-z_][a-z0-9_]*)*)*$/, "must be table:col+col,... (lowercase names)").optional(),
  // The operator console (`herald console`, docs/operations.md).
  /** Interface the console listens on. Default 127.0.0.1 (this host only). */
  HERALD_CONSOLE_HOST: z.string().min(1).default("127.0.0.1"),
  /** Port of the console. Default 8090. */
  HERALD_CONSOLE_PORT: intFrom(0, 65_535).default(8090),
  /** Database the console reads, as its own role (`herald grants --console`). Default: DATABASE_URL. */
  HERALD_CONSOLE_DATABASE_URL: databaseUrl.optional(),
  /** File with the password of HERALD_CONSOLE_DATABASE_URL's role. Default: DATABASE_PASSWORD_FILE when the URL is DATABASE_URL, else unset. */
  HERALD_CONSOLE_DATABASE_PASSWORD_FILE: z.string().min(1).optional(),
  /** Turn on the console's actions (redrive, replay, prune); they need the operator credential and a role with `herald grants --console --actions`. Default false. */
  HERALD_CONSOLE_ACTIONS: z.stringbool().default(false),
  /** File holding the operator token (at least 16 characters) that unlocks the actions. Required with HERALD_CONSOLE_ACTIONS. */
  HERALD_CONSOLE_OPERATOR_TOKEN_FILE: z.string().min(1).optional(),
  /** Role policy (YAML or JSON, docs/identity.md) whose `operator` mappings let OIDC tokens unlock the actions, instead of the operator token. Default: unset. */
  HERALD_CONSOLE_OIDC_POLICY_FILE: z.string().min(1).optional(),
  /** Jaeger UI base URL for a command's trace link (`<url>/trace/<trace id>`). Default http://localhost:16686. */
  HERALD_CONSOLE_JAEGER_URL: z.string().regex(/^https?:\/\/[^\s'"<>]+$/, "must be an http(s):// URL").default("http://localhost:16686"),
  // Identity: OIDC tokens become NATS credentials and database logins (docs/identity.md).
  /** File holding an OIDC token; with HERALD_IDENTITY_URL, NATS connections log in with it (read again for every fetch). Default: unset. */
  NATS_OIDC_TOKEN_FILE: z.string().min(1).optional(),
  /** Base URL of `herald identity serve`, e.g. `https://issuer:8444`. Default: unset. */
  HERALD_IDENTITY_URL: z.string().regex(/^https?:\/\/[^\s?#]+$/, "must be an https:// URL (http:// only for a loopback issuer)").optional(),
  /** CA certificate (PEM) the issuer's certificate is checked with. Default: the system's CAs. */
  HERALD_IDENTITY_CA_FILE: z.string().min(1).optional(),
  /** Role the OIDC login asks for: worker, client, cdc, operator or consumer:<durable>. Default: the command's own (start: worker, send: client, cdc start: cdc). */
  HERALD_IDENTITY_ROLE: z.string().regex(/^(worker|client|cdc|operator|consumer:[A-Za-z0-9_-]{1,64})$/, "must be worker, client, cdc, operator or consumer:<durable>").optional(),
  /** Directory `herald identity init` writes keys, JWTs and the nats-server config to. Default `./herald-identity`. */
  HERALD_IDENTITY_DIR: z.string().min(1).default("herald-identity"),
  /** The role policy (YAML or JSON) `herald identity serve` and `herald audit` read. Default: unset. */
  HERALD_IDENTITY_POLICY_FILE: z.string().min(1).optional(),
  /** Interface `herald identity serve` listens on. Default 127.0.0.1. */
  HERALD_IDENTITY_HOST: z.string().min(1).default("127.0.0.1"),
  /** Port of `herald identity serve`. Default 8444. */
  HERALD_IDENTITY_PORT: intFrom(0, 65_535).default(8444),
  /** Server certificate (PEM) of the issuer. Required unless --insecure-loopback. */
  HERALD_IDENTITY_CERT_FILE: z.string().min(1).optional(),
  /** Key (PEM) of HERALD_IDENTITY_CERT_FILE. */
  HERALD_IDENTITY_KEY_FILE: z.string().min(1).optional(),
  /** How long issuance records are kept after they expire, in hours. Default 2160 (90 days). */
  HERALD_IDENTITY_RETENTION_HOURS: intFrom(1, 24 * 3650).default(24 * 90),
  /** Directory `herald identity rotate-db` and `herald migrate --rotate-credentials` write `<role>.password` files to. Default: unset. */
  HERALD_DB_PASSWORD_DIR: z.string().min(1).optional(),
  /** How long a rotated database password stays valid (VALID UNTIL), e.g. `7d`. Default `7d`. */
  HERALD_DB_PASSWORD_VALID_FOR: z.string().regex(/^[1-9][0-9]{0,6}(s|m|h|d)$/, "must be a duration like 12h or 7d").default("7d"),
  /** Log level: fatal, error, warn, info, debug, trace or silent. */
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type HeraldConfig = Readonly<z.infer<typeof configSchema>>;

/** A bad environment: every problem, one per line, names the variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`);
  }
}

/** Parses an environment-like record; throws ConfigError listing every bad value. */
export function parseConfig(env: Record<string, string | undefined>): HeraldConfig {
  // Empty strings mean "unset", as shells and compose files often produce them.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`),
    );
  }
  return Object.freeze(parsed.data);
}

let cached: HeraldConfig | undefined;

/** The process configuration, parsed from `process.env` on first use and frozen. */
export function loadConfig(): HeraldConfig {
  cached ??= parseConfig(process.env);
  return cached;
}

/** The environment for a child process Herald starts (demo workers, tests), with overrides. */
export function childEnvironment(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Retention a consumer's own pruner follows, in hours. */
export interface ConsumerRetention {
  inboxRetentionHours: number;
  deadLetterRetentionHours: number;
}

/**
 * HERALD_INBOX_RETENTION_HOURS and HERALD_DEAD_LETTER_RETENTION_HOURS (defaults
 * 720 and 720), read from `env` (default: the process environment). Only these
 * two variables are parsed, so an unrelated bad variable cannot stop a consumer.
 */
export function consumerRetention(env: Record<string, string | undefined> = process.env): ConsumerRetention {
  const picked = configSchema.pick({ HERALD_INBOX_RETENTION_HOURS: true, HERALD_DEAD_LETTER_RETENTION_HOURS: true });
  const cleaned = Object.fromEntries(
    ["HERALD_INBOX_RETENTION_HOURS", "HERALD_DEAD_LETTER_RETENTION_HOURS"].filter((k) => env[k] !== undefined && env[k] !== "").map((k) => [k, env[k]]),
  );
  const parsed = picked.safeParse(cleaned);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`));
  return { inboxRetentionHours: parsed.data.HERALD_INBOX_RETENTION_HOURS, deadLetterRetentionHours: parsed.data.HERALD_DEAD_LETTER_RETENTION_HOURS };
}
