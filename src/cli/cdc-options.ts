import type { HeraldConfig } from "../config.js";
import { cdcWildcard, defaultCdcStreamName } from "../cdc/change-message.js";
import { assertCdcNames, type PostgresCdcNames } from "../cdc/postgres-setup.js";
import type { PgTarget } from "../cdc/pg-client.js";
import { CliError } from "./cli-error.js";
import { EXIT } from "./ops-support.js";

/** Options every `herald cdc` subcommand shares. */
export const CDC_OPTIONS = {
  domain: { type: "string" },
  source: { type: "string" },
  table: { type: "string", multiple: true },
  slot: { type: "string" },
  publication: { type: "string" },
  stream: { type: "string" },
} as const;

export interface CdcSettings extends PostgresCdcNames {
  source: "postgres" | "cockroachdb";
  stream: string;
  subjects: string;
  target: PgTarget;
}

/** Flags over the environment's HERALD_CDC_* settings, checked. */
export function cdcSettings(
  values: { domain?: string; source?: string; table?: string | string[]; slot?: string; publication?: string; stream?: string },
  config: HeraldConfig,
  domain: string,
): CdcSettings {
  const source = values.source ?? config.HERALD_CDC_SOURCE;
  if (source !== "postgres" && source !== "cockroachdb") throw new CliError(`--source must be postgres or cockroachdb, not ${JSON.stringify(source)}`, EXIT.usage);
  const flags = values.table === undefined ? [] : ([] as string[]).concat(values.table);
  const tables = flags.length
    ? flags.flatMap((t) => t.split(",")).map((t) => t.trim())
    : (config.HERALD_CDC_TABLES?.split(",").map((t) => t.trim()) ?? []);
  const names = { slot: values.slot ?? config.HERALD_CDC_SLOT, publication: values.publication ?? config.HERALD_CDC_PUBLICATION, tables };
  if (tables.length === 0) throw new CliError("name the tables to watch: --table <name> (repeatable) or HERALD_CDC_TABLES", EXIT.usage);
  try {
    assertCdcNames(names);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT.usage);
  }
  const stream = values.stream ?? config.HERALD_CDC_STREAM ?? defaultCdcStreamName(domain);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(stream)) throw new CliError(`--stream "${stream.slice(0, 80)}" must be 1-64 characters of A-Z, a-z, 0-9, _ and -`, EXIT.usage);
  return {
    ...names,
    source,
    stream,
    subjects: cdcWildcard(domain),
    target: { url: config.HERALD_CDC_DATABASE_URL ?? config.DATABASE_URL, passwordFile: config.DATABASE_PASSWORD_FILE },
  };
}
