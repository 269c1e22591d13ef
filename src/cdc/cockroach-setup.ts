/**
 * The SQL that points a CockroachDB changefeed at Herald's webhook endpoint,
 * for `herald cdc setup --source cockroachdb`. Every option is checked against
 * https://www.cockroachlabs.com/docs/v24.3/create-changefeed#options and the
 * webhook sink's parameters against
 * https://www.cockroachlabs.com/docs/v24.3/changefeed-sinks#webhook-sink.
 */

/** `webhook_sink_config` (https://www.cockroachlabs.com/docs/v24.3/changefeed-sinks#webhook-sink-configuration). */
export interface WebhookSinkConfig {
  /** Flush.Messages: a request goes out when it holds this many messages. Default 500. */
  flushMessages?: number;
  /** Flush.Frequency: ...or this long after its first message (required when Messages is set). Default `100ms`. */
  flushFrequency?: string;
  /** Retry.Max: HTTP retries of a failed request before the job itself retries from its checkpoint; `inf` retries forever. Default `inf`. */
  retryMax?: number | "inf";
  /** Retry.Backoff: first wait before a retry, doubling up to 30 s. Default `500ms`. */
  retryBackoff?: string;
}

export interface CockroachChangefeedOptions {
  /** Watched tables (`t`, `schema.t` or `db.schema.t`). */
  tables: readonly string[];
  /** Herald's endpoint as CockroachDB's nodes reach it, e.g. `https://herald-cdc:8443/changefeed`. */
  url: string;
  /** The exact Authorization value Herald expects (`webhook_auth_header`), e.g. `Basic <base64 user:password>`. */
  authHeader: string;
  /** PEM of the CA that signed Herald's certificate (or the self-signed certificate): goes base64-encoded into `ca_cert`. */
  caCertPem?: string;
  /** `insecure_tls_skip_verify=true`: no certificate check (tests only; the docs warn of MITM). Default false. */
  insecureSkipVerify?: boolean;
  /**
   * `resolved`: least advance of the high-water mark between resolved messages. Default `10s`.
   * Below 30s, `min_checkpoint_frequency` must be set no higher, so it is set to the same value.
   */
  resolved?: string;
  /** `diff`: send `before` images, which also tells inserts from updates. Default true. */
  diff?: boolean;
  /** `webhook_client_timeout`: how long CockroachDB waits for Herald's reply. Keep it above Herald's reply timeout. Default `10s`. */
  clientTimeout?: string;
  /** `initial_scan`: `yes` (CockroachDB's default) emits every existing row first; `no` only later changes. Default: not set. */
  initialScan?: "yes" | "no";
  /** `cursor`: start from this HLC timestamp instead of now (no initial scan unless `initial_scan = 'yes'`). */
  cursor?: string;
  sinkConfig?: WebhookSinkConfig;
}

const TABLE = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*){0,2}$/;
const DURATION = /^\d+(\.\d+)?(ns|us|µs|ms|s|m|h)$/;
const HLC = /^\d{1,20}(\.\d{1,10})?$/;

/** A SQL string literal: single quotes doubled. */
const literal = (text: string): string => `'${text.replace(/'/g, "''")}'`;

function duration(name: string, value: string): string {
  if (!DURATION.test(value)) throw new TypeError(`${name} "${value}" must be a duration like 10s or 500ms`);
  return value;
}

/** The sink URI: `webhook-https://host:port/path?ca_cert=...` (parameters URL-encoded, base64 in `ca_cert`). */
export function webhookSinkUri(options: Pick<CockroachChangefeedOptions, "url" | "caCertPem" | "insecureSkipVerify">): string {
  const url = new URL(options.url);
  if (url.protocol !== "https:") throw new TypeError(`url "${options.url}" must be https: the webhook sink speaks only HTTPS`);
  const params = new URLSearchParams(url.search);
  if (options.insecureSkipVerify) params.set("insecure_tls_skip_verify", "true");
  if (options.caCertPem) params.set("ca_cert", Buffer.from(options.caCertPem, "utf8").toString("base64"));
  const query = params.toString();
  return `webhook-https://${url.host}${url.pathname}${query ? `?${query}` : ""}`;
}

/** The `webhook_sink_config` JSON. */
export function webhookSinkConfigJson(config: WebhookSinkConfig = {}): string {
  const messages = config.flushMessages ?? 500;
  if (!Number.isInteger(messages) || messages < 0) throw new TypeError("flushMessages must be a whole number ≥ 0");
  const retryMax = config.retryMax ?? "inf";
  if (retryMax !== "inf" && (!Number.isInteger(retryMax) || retryMax < 1)) throw new TypeError('retryMax must be a whole number > 0 or "inf"');
  return JSON.stringify({
    Flush: { Messages: messages, Frequency: duration("flushFrequency", config.flushFrequency ?? "100ms") },
    Retry: { Max: retryMax, Backoff: duration("retryBackoff", config.retryBackoff ?? "500ms") },
  });
}

/** The CREATE CHANGEFEED statement, one line per option. */
export function cockroachChangefeedStatement(options: CockroachChangefeedOptions): string {
  if (options.tables.length === 0) throw new TypeError("name at least one table to watch");
  for (const t of options.tables) if (!TABLE.test(t)) throw new TypeError(`table "${t}" must be [db.][schema.]name of lowercase a-z, 0-9 and _`);
  if (!options.authHeader) throw new TypeError("authHeader is required: Herald refuses unauthenticated changefeed requests");
  if (!options.caCertPem && !options.insecureSkipVerify) throw new TypeError("give caCertPem (or insecureSkipVerify for a test): CockroachDB must be able to check Herald's certificate");
  const resolved = duration("resolved", options.resolved ?? "10s");
  const settings: string[] = [
    // `updated` is required: the HLC timestamp is each change's position.
    "updated",
    // The row version's timestamp, the same in every re-emitted copy (initial scan, backfill): the msg-id derives from it.
    "mvcc_timestamp",
    `resolved = ${literal(resolved)}`,
    `min_checkpoint_frequency = ${literal(resolved)}`,
  ];
  if (options.diff ?? true) settings.push("diff");
  if (options.initialScan) settings.push(`initial_scan = ${literal(options.initialScan)}`);
  if (options.cursor !== undefined) {
    if (!HLC.test(options.cursor)) throw new TypeError(`cursor "${options.cursor}" must be an HLC timestamp like 1629813621680097993.0000000000`);
    settings.push(`cursor = ${literal(options.cursor)}`);
  }
  settings.push(
    `webhook_auth_header = ${literal(options.authHeader)}`,
    `webhook_client_timeout = ${literal(duration("clientTimeout", options.clientTimeout ?? "10s"))}`,
    `webhook_sink_config = ${literal(webhookSinkConfigJson(options.sinkConfig))}`,
  );
  return [
    `CREATE CHANGEFEED FOR TABLE ${options.tables.join(", ")}`,
    `  INTO ${literal(webhookSinkUri(options))}`,
    `  WITH ${settings.join(",\n       ")};`,
  ].join("\n");
}

/** The whole setup script: rangefeeds on, then the changefeed. */
export function cockroachSetupSql(options: CockroachChangefeedOptions): string {
  return [
    "-- Changefeeds need rangefeeds (https://www.cockroachlabs.com/docs/v24.3/create-and-configure-changefeeds#enable-rangefeeds).",
    "SET CLUSTER SETTING kv.rangefeed.enabled = true;",
    "-- The creating user needs the CHANGEFEED privilege on the tables.",
    cockroachChangefeedStatement(options),
    "-- Check it: SHOW CHANGEFEED JOBS; stop it: CANCEL JOB <job_id>;",
  ].join("\n");
}
