import type pg from "pg";
import { withPgClient, type PgTarget } from "./pg-client.js";
import { qualifiedTable } from "./postgres-keys.js";

/** The publication and the watched tables it must list. */
export interface PublicationNames {
  publication: string;
  tables: readonly string[];
}

/**
 * The watched tables the publication leaves out: their changes would never
 * reach the slot, so the bridge aligns the publication or refuses to start,
 * and `herald cdc status` reports them.
 */
export class PublicationDriftError extends Error {
  override readonly name = "PublicationDriftError";
  constructor(
    readonly publication: string,
    /** `schema.table` of each watched table the publication lacks. */
    readonly missing: readonly string[],
    /** The statement that adds them, for the tables' owner to run. */
    readonly sql: string,
    options: { cause?: unknown } = {},
  ) {
    super(
      `publication ${publication} lacks the watched table(s) ${missing.join(", ")}, so their changes would never be streamed; ` +
        `this role may not add them (${(options.cause as Error | undefined)?.message ?? "not allowed"}). Run as the tables' owner: ${sql}`,
      options,
    );
  }
}

/** `ALTER PUBLICATION ... ADD TABLE ...` for the missing tables. */
export const addTablesSql = (publication: string, missing: readonly string[]): string => `ALTER PUBLICATION ${publication} ADD TABLE ${missing.join(", ")};`;

/** Watched tables (`schema.table`) that `pg_publication_tables` does not list for the publication; every table when there is no such publication. */
export async function missingFromPublication(client: pg.Client, names: PublicationNames): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    "SELECT schemaname || '.' || tablename AS name FROM pg_publication_tables WHERE pubname = $1",
    [names.publication],
  );
  const published = new Set(rows.map((r) => r.name));
  return [...new Set(names.tables.map(qualifiedTable))].filter((t) => !published.has(t));
}

/** The same, on a connection of its own (for `herald cdc status`). */
export function publicationDrift(target: PgTarget, names: PublicationNames): Promise<string[]> {
  return withPgClient(target, (client) => missingFromPublication(client, names));
}

/**
 * Brings the publication in line with the watched tables: adds the missing
 * ones when `mayAlter` and the role may (it must own them), else throws
 * `PublicationDriftError` naming them, with the SQL. Returns the tables added.
 */
export async function alignPublication(client: pg.Client, names: PublicationNames, mayAlter: boolean): Promise<string[]> {
  const missing = await missingFromPublication(client, names);
  if (missing.length === 0) return [];
  const sql = addTablesSql(names.publication, missing);
  if (!mayAlter) throw new PublicationDriftError(names.publication, missing, sql, { cause: new Error("creating or altering CDC objects is turned off") });
  try {
    await client.query(sql.slice(0, -1));
  } catch (err) {
    // A bridge starting at the same moment may have added them first.
    if ((await missingFromPublication(client, names)).length === 0) return [];
    throw new PublicationDriftError(names.publication, missing, sql, { cause: err });
  }
  return missing;
}
