import { InvalidNameError } from "../security/naming.js";
import { HERALD_BOOKKEEPING_TABLES } from "./migrator.js";

/**
 * DDL that turns a migrated Herald database into a multi-region CockroachDB
 * database (docs/cockroachdb.md, "Multi-region"). Printed, never run: an
 * operator reviews it and runs it once, after `herald migrate`.
 */

/** Where a table's rows live. */
export type TablePlacement = "regional-by-row" | "global";

/**
 * Every table Herald creates, placed. Command, outbox, inbox and dead-letter
 * rows belong to the region whose worker (or consumer) wrote them; the
 * migration bookkeeping is read everywhere and written once per deploy.
 */
export const HERALD_TABLE_PLACEMENT: Readonly<Record<string, TablePlacement>> = Object.freeze({
  herald_commands: "regional-by-row",
  herald_outbox: "regional-by-row",
  herald_inbox: "regional-by-row",
  herald_dead_letters: "regional-by-row",
  herald_consumer_positions: "regional-by-row",
  herald_reactor_rejections: "regional-by-row",
  // Written once per operator action, read by every region's console.
  herald_operator_actions: "global",
  // The issuer of a region records its issuances there; revocations are read by
  // every issuer on every request and written rarely.
  herald_identity_issuances: "regional-by-row",
  herald_identity_revocations: "global",
  ...Object.fromEntries(HERALD_BOOKKEEPING_TABLES.map((t) => [t, "global" as const])),
});

export type SurvivalGoal = "zone" | "region";

export interface MultiRegionOptions {
  /** Cluster region names, the primary first, e.g. `["us-east1", "europe-west1"]`. Required, at least one. */
  regions: string | readonly string[];
  /** Database to alter. Default `defaultdb` (the compose stack's). */
  database?: string;
  /** Survival goal. Default `zone` (CockroachDB's default); `region` needs three regions or more. */
  survive?: SurvivalGoal;
  /** Herald's tables, to check every one is placed. Default: the keys of HERALD_TABLE_PLACEMENT. */
  tables?: readonly string[];
  /** The app whose tables are placed too; without it the script says they are not. Default: none. */
  app?: AppPlacementOptions;
}

export interface AppPlacementOptions {
  /** The app's domain: its migration bookkeeping tables are `herald_migration_<domain>`, `…_lock`, `…_kysely_lock`. */
  domain: string;
  /** Tables the app's migrations create. */
  tables: readonly string[];
  /** Of those, the ones read everywhere and rarely written (reference data): GLOBAL instead of REGIONAL BY ROW. Default none. */
  global?: readonly string[];
}

/** Where each of an app's tables goes: its own tables by row unless named global, its migration bookkeeping global. */
export function appPlacement(app: AppPlacementOptions): Record<string, TablePlacement> {
  const unknown = (app.global ?? []).filter((t) => !app.tables.includes(t));
  if (unknown.length > 0) throw new InvalidNameError(`--global names ${unknown.join(", ")}, which the app's migrations do not create (${app.tables.join(", ") || "none"})`);
  const bookkeeping = [`herald_migration_${app.domain}`, `herald_migration_${app.domain}_lock`, `herald_migration_${app.domain}_kysely_lock`];
  return Object.fromEntries([
    ...app.tables.map((t): [string, TablePlacement] => [t, app.global?.includes(t) ? "global" : "regional-by-row"]),
    ...bookkeeping.map((t): [string, TablePlacement] => [t, "global"]),
  ]);
}

/** CockroachDB locality names as clusters use them: `us-east1`, `europe-west4`, `eu_central`. */
const REGION = /^[a-z][a-z0-9_-]{0,62}$/;
const DATABASE = /^[a-z_][a-z0-9_]{0,62}$/;

const quote = (name: string): string => `"${name}"`;

/** Splits `a,b,c` into region names; an empty list or an invalid or repeated name throws InvalidNameError. */
export function parseRegions(list: string | readonly string[] | undefined): string[] {
  const items = (typeof list === "string" ? list.split(",") : [...(list ?? [])]).map((r) => r.trim());
  if (items.length === 0 || items.every((r) => r === "")) throw new InvalidNameError("--regions needs at least one region, e.g. --regions us-east1,us-west1,europe-west1");
  const seen = new Set<string>();
  for (const region of items) {
    if (!REGION.test(region)) {
      throw new InvalidNameError(`region ${JSON.stringify(region.slice(0, 80))} must start with a-z and hold only a-z, 0-9, - and _ (at most 63 characters)`);
    }
    if (seen.has(region)) throw new InvalidNameError(`region "${region}" is listed twice`);
    seen.add(region);
  }
  return items;
}

/** The statements, one per line, with comments; throws before producing anything on bad input. */
export function multiRegionSql(options: MultiRegionOptions): string {
  const regions = parseRegions(options.regions);
  const database = options.database ?? "defaultdb";
  if (!DATABASE.test(database)) throw new InvalidNameError(`database ${JSON.stringify(database.slice(0, 80))} must be 1-63 characters of lowercase a-z, 0-9 and _`);
  const survive = options.survive ?? "zone";
  if (survive !== "zone" && survive !== "region") throw new InvalidNameError(`survival goal must be zone or region, not ${JSON.stringify(survive)}`);
  if (survive === "region" && regions.length < 3) {
    throw new InvalidNameError(`surviving a region failure needs at least 3 regions, got ${regions.length}`);
  }
  const tables = options.tables ?? Object.keys(HERALD_TABLE_PLACEMENT);
  const unplaced = tables.filter((t) => !Object.hasOwn(HERALD_TABLE_PLACEMENT, t));
  if (unplaced.length > 0) throw new Error(`no multi-region placement for Herald table(s) ${unplaced.join(", ")}: add them to HERALD_TABLE_PLACEMENT`);
  const [primary, ...others] = regions as [string, ...string[]];
  const db = quote(database);
  const byPlacement = (p: TablePlacement) => tables.filter((t) => HERALD_TABLE_PLACEMENT[t] === p);
  const app = options.app ? appPlacement(options.app) : undefined;
  const appBy = (p: TablePlacement) => Object.keys(app ?? {}).filter((t) => app![t] === p);
  return [
    `-- Multi-region layout of Herald's tables in database ${database} (CockroachDB 21.1 or later).`,
    "-- Run once as an admin after `herald migrate`, on a cluster whose nodes were started",
    `-- with --locality=region=<name> for each of: ${regions.join(", ")}.`,
    "-- Schema changes run one by one: do not wrap this script in a transaction.",
    "--",
    "-- Rows of REGIONAL BY ROW tables are homed by their hidden crdb_region column, which",
    "-- defaults to the region of the node the writing session is connected to",
    "-- (default_to_database_primary_region(gateway_region())). Each region's workers connect",
    "-- to that region's nodes and serve that region's commands, so a command, its outbox",
    "-- events and its idempotency record are written where they were received.",
    `ALTER DATABASE ${db} SET PRIMARY REGION ${quote(primary)};`,
    ...others.map((r) => `ALTER DATABASE ${db} ADD REGION ${quote(r)};`),
    `ALTER DATABASE ${db} SURVIVE ${survive.toUpperCase()} FAILURE;`,
    ...byPlacement("regional-by-row").map((t) => `ALTER TABLE ${quote(t)} SET LOCALITY REGIONAL BY ROW;`),
    "-- Read in every region, written once per deploy: fast reads everywhere, slow writes.",
    ...byPlacement("global").map((t) => `ALTER TABLE ${quote(t)} SET LOCALITY GLOBAL;`),
    ...(app
      ? [
          `-- The ${options.app!.domain} app's tables: rows homed where the handler wrote them; its migration tables global.`,
          ...appBy("regional-by-row").map((t) => `ALTER TABLE ${quote(t)} SET LOCALITY REGIONAL BY ROW;`),
          ...appBy("global").map((t) => `ALTER TABLE ${quote(t)} SET LOCALITY GLOBAL;`),
        ]
      : [
          "-- No app given (--app): the app's tables and its herald_migration_<domain> tables stay in the",
          "-- primary region, so its handlers' reads and writes cross regions from every other one.",
        ]),
    "",
  ].join("\n");
}
