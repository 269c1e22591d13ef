import { parseArgs } from "node:util";
import type { NatsConnection } from "@nats-io/nats-core";
import { ConfigError, loadConfig, type HeraldConfig } from "../config.js";
import { connectDatabase, type Database } from "../db/connection.js";
import { connectNats } from "../messaging/connection.js";
import { databaseOptionsFromConfig, natsOptionsFromConfig } from "./connection-options.js";
import { knownDomains } from "../operations/domains.js";
import { NotFoundError, OperationInputError, parseDomain } from "../operations/inputs.js";
import { defaultStreamName } from "../protocol/subjects.js";
import { CliError } from "./cli-error.js";

/** Exit codes of the operations commands. */
export const EXIT = { ok: 0, failed: 1, usage: 2, unhealthy: 3 } as const;

type OptionSpec = Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;

type OptionValue<S extends OptionSpec[string]> = S["type"] extends "boolean" ? boolean : S["multiple"] extends true ? string[] : string;

/** Parsed options: each present one as a string (strings when repeatable) or a boolean. */
export interface ParsedCli<O extends OptionSpec> {
  values: { [K in keyof O]?: OptionValue<O[K]> };
  positionals: string[];
}

/** parseArgs, strict; a bad option is a usage error (exit 2), not a stack trace. */
export function parseCli<const O extends OptionSpec>(argv: string[], options: O, allowPositionals = false): ParsedCli<O> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals }) as ParsedCli<O>;
  } catch (err) {
    throw new CliError((err as Error).message, EXIT.usage);
  }
}

/** The configuration; a bad setting in the environment is a usage error (exit 2), like a bad option. */
export function loadOpsConfig(): HeraldConfig {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`invalid configuration: ${err.problems.join("; ")}`, EXIT.usage);
    throw err;
  }
}

/** Runs an operation, turning its input and not-found errors into one-line CLI errors. */
export async function operation<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof OperationInputError) throw new CliError(err.message, EXIT.usage);
    if (err instanceof NotFoundError) throw new CliError(err.message, EXIT.failed);
    throw err;
  }
}

/** Domains listed in the "several domains" error; more are counted, not named. */
const DOMAINS_LISTED = 20;

/** The one domain of `domains`, or a usage error that says why there is none and lists them. */
export function onlyDomain(domains: readonly string[]): string {
  if (domains.length === 1) return domains[0]!;
  if (domains.length === 0) throw new CliError("--domain is required: the database holds no commands of any domain yet (or set HERALD_DOMAIN)", EXIT.usage);
  const named = domains.slice(0, DOMAINS_LISTED).join(", ");
  const more = domains.length > DOMAINS_LISTED ? ", …" : "";
  throw new CliError(`--domain is required: the database holds several domains (${named}${more}); pass --domain <name> or set HERALD_DOMAIN`, EXIT.usage);
}

/**
 * The domain from --domain or HERALD_DOMAIN; without either, the only domain
 * the database holds commands of (a short-lived pool asks it), and a usage
 * error listing the domains when there are several.
 */
export async function resolveDomain(flag: string | undefined, config: HeraldConfig): Promise<string> {
  const given = flag ?? config.HERALD_DOMAIN;
  if (given !== undefined) return operationSync(() => parseDomain(given));
  let domains: string[];
  try {
    domains = await withDatabase(config, "domains", (database) => knownDomains(database.db, DOMAINS_LISTED + 1));
  } catch (err) {
    throw new CliError("no --domain given, and the database could not be asked for its domains (pass --domain or set HERALD_DOMAIN)", EXIT.failed, { cause: err });
  }
  return onlyDomain(domains);
}

/** The stream from --stream, HERALD_STREAM, or the domain's default. */
export const resolveStream = (flag: string | undefined, config: HeraldConfig, domain: string): string =>
  flag ?? config.HERALD_STREAM ?? defaultStreamName(domain);

/** Synchronous form of `operation`, for parsing. */
export function operationSync<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof OperationInputError) throw new CliError(err.message, EXIT.usage);
    throw err;
  }
}

/** A small pool for one CLI run, closed afterwards. */
export async function withDatabase<T>(config: HeraldConfig, name: string, fn: (database: Database) => Promise<T>): Promise<T> {
  const database = await connectDatabase({ ...databaseOptionsFromConfig(config), poolMax: 2, applicationName: `herald-${name}` });
  try {
    return await fn(database);
  } finally {
    await database.destroy();
  }
}

/** A NATS connection for one CLI run, closed afterwards. */
export async function withNats<T>(config: HeraldConfig, name: string, fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connectNats({ ...natsOptionsFromConfig(config), name: `herald-${name}` });
  try {
    return await fn(nc);
  } finally {
    await nc.close().catch(() => undefined);
  }
}
