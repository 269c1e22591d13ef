import { readFile } from "node:fs/promises";
import type { HeraldConfig } from "../config.js";
import type { Logger } from "../telemetry/logger.js";
import type { CockroachChangefeedOptions } from "./cockroach-setup.js";
import type { CockroachSourceOptions } from "./cockroach-source.js";

/** `table:col+col,...` → key columns per table; every other watched table keys on `id`. */
export function parseKeyColumns(spec: string | undefined, tables: readonly string[]): Record<string, readonly string[]> {
  const keys: Record<string, readonly string[]> = Object.fromEntries(tables.map((t) => [t, ["id"]]));
  for (const entry of (spec ?? "").split(",").filter(Boolean)) {
    const [table, columns] = entry.split(":", 2) as [string, string];
    if (!(table in keys)) throw new TypeError(`HERALD_CDC_WEBHOOK_KEYS names ${table}, which is not a watched table (${tables.join(", ")})`);
    keys[table] = columns.split("+");
  }
  return keys;
}

async function authHeaderOf(config: HeraldConfig): Promise<string> {
  const authHeader =
    config.HERALD_CDC_WEBHOOK_AUTH_HEADER ??
    (config.HERALD_CDC_WEBHOOK_AUTH_HEADER_FILE ? (await readFile(config.HERALD_CDC_WEBHOOK_AUTH_HEADER_FILE, "utf8")).trim() : "");
  if (!authHeader) throw new TypeError("set HERALD_CDC_WEBHOOK_AUTH_HEADER or HERALD_CDC_WEBHOOK_AUTH_HEADER_FILE (the changefeed's webhook_auth_header)");
  return authHeader;
}

/** The webhook source's options from the configuration, reading the certificate, key and auth header files. */
export async function cockroachSourceOptions(config: HeraldConfig, tables: readonly string[], logger?: Logger): Promise<CockroachSourceOptions> {
  if (!config.HERALD_CDC_WEBHOOK_CERT_FILE || !config.HERALD_CDC_WEBHOOK_KEY_FILE) {
    throw new TypeError("the CockroachDB source serves HTTPS: set HERALD_CDC_WEBHOOK_CERT_FILE and HERALD_CDC_WEBHOOK_KEY_FILE");
  }
  const authHeader = await authHeaderOf(config);
  return {
    host: config.HERALD_CDC_WEBHOOK_HOST,
    port: config.HERALD_CDC_WEBHOOK_PORT,
    path: config.HERALD_CDC_WEBHOOK_PATH,
    tls: { cert: await readFile(config.HERALD_CDC_WEBHOOK_CERT_FILE), key: await readFile(config.HERALD_CDC_WEBHOOK_KEY_FILE) },
    authHeader,
    tables: parseKeyColumns(config.HERALD_CDC_WEBHOOK_KEYS, tables),
    maxBodyBytes: config.HERALD_CDC_WEBHOOK_MAX_BODY_BYTES,
    replyTimeoutMs: config.HERALD_CDC_WEBHOOK_REPLY_TIMEOUT_MS,
    logger,
  };
}

/** The options of `cockroachChangefeedStatement` for `herald cdc setup --source cockroachdb`, from the configuration. */
export async function cockroachSetupOptions(config: HeraldConfig, tables: readonly string[]): Promise<CockroachChangefeedOptions> {
  const caFile = config.HERALD_CDC_WEBHOOK_CA_FILE ?? config.HERALD_CDC_WEBHOOK_CERT_FILE;
  if (!caFile) throw new TypeError("set HERALD_CDC_WEBHOOK_CA_FILE (or HERALD_CDC_WEBHOOK_CERT_FILE): the changefeed's ca_cert must check Herald's certificate");
  return {
    tables,
    url: config.HERALD_CDC_WEBHOOK_URL ?? `https://localhost:${config.HERALD_CDC_WEBHOOK_PORT}${config.HERALD_CDC_WEBHOOK_PATH}`,
    authHeader: await authHeaderOf(config),
    caCertPem: await readFile(caFile, "utf8"),
  };
}
