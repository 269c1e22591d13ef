import { withPgClient, type PgTarget } from "./pg-client.js";
import { assertWatchedTable } from "./change-message.js";
import { qualifiedTable } from "./postgres-keys.js";
import { alignPublication } from "./postgres-publication.js";

/** What the PostgreSQL source reads: a publication over the watched tables and a pgoutput slot. */
export interface PostgresCdcNames {
  /** Logical replication slot. */
  slot: string;
  /** Publication the slot decodes. */
  publication: string;
  /** Watched tables (schema `public` unless qualified as `schema.table`). */
  tables: readonly string[];
}

const NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Checks slot, publication and table names: they become SQL identifiers and subject segments. */
export function assertCdcNames(names: PostgresCdcNames): void {
  if (!NAME.test(names.slot)) throw new TypeError(`slot "${names.slot}" must be 1-63 characters of a-z, 0-9 and _, not starting with a digit`);
  if (!NAME.test(names.publication)) throw new TypeError(`publication "${names.publication}" must be 1-63 characters of a-z, 0-9 and _, not starting with a digit`);
  if (names.tables.length === 0) throw new TypeError("name at least one table to watch");
  const byName = new Map<string, string>();
  for (const t of names.tables) {
    const [schema, table] = t.includes(".") ? t.split(".", 2) : ["public", t];
    if (!NAME.test(schema!)) throw new TypeError(`schema of "${t}" must be lowercase a-z, 0-9 and _`);
    assertWatchedTable(table!);
    // Subjects and messages name the table without its schema: two tables of one name would be one stream of changes.
    const other = byName.get(table!);
    if (other !== undefined) {
      throw new TypeError(`tables ${other} and ${schema}.${table} are both named "${table}"; CDC subjects (<domain>.cdc.<table>.<op>) name the table without its schema, so watch one of them per domain`);
    }
    byName.set(table!, `${schema}.${table}`);
  }
}

/**
 * Another bridge made the same object at the same moment: `42710`, or `23505`
 * when both passed the existence check and the second then hit the catalog's
 * unique index (CREATE PUBLICATION does that).
 */
const isDuplicate = (err: unknown): boolean => ["42710", "23505"].includes((err as { code?: string }).code ?? "");

/**
 * The SQL that prepares a PostgreSQL database for CDC, for `herald cdc setup`.
 * The server needs `wal_level = logical` (a restart), and a slot and a sender
 * to spare (`max_replication_slots`, `max_wal_senders`).
 */
export function postgresSetupSql(names: PostgresCdcNames, options: { fullBeforeImages?: boolean } = {}): string {
  assertCdcNames(names);
  const tables = names.tables.map(qualifiedTable);
  const lines = [
    "-- Server settings (postgresql.conf, then restart): wal_level = logical",
    "-- and at least one free max_replication_slots and max_wal_senders.",
    `CREATE PUBLICATION ${names.publication} FOR TABLE ${tables.join(", ")};`,
    `SELECT pg_create_logical_replication_slot('${names.slot}', 'pgoutput');`,
  ];
  if (options.fullBeforeImages) {
    lines.push("-- Full before images (RowChange.before) cost WAL volume:");
    for (const t of tables) lines.push(`ALTER TABLE ${t} REPLICA IDENTITY FULL;`);
  }
  lines.push(
    "-- Removing CDC later (an unused slot keeps WAL forever):",
    `-- SELECT pg_drop_replication_slot('${names.slot}'); DROP PUBLICATION ${names.publication};`,
  );
  return lines.join("\n");
}

/**
 * Creates the publication and the slot when missing (both idempotent), and
 * adds watched tables the publication lacks (`PublicationDriftError` when the
 * role may not). Returns what it created and added.
 */
export async function ensurePostgresCdc(target: PgTarget, names: PostgresCdcNames): Promise<{ publication: boolean; slot: boolean; added: string[] }> {
  assertCdcNames(names);
  return withPgClient(target, async (client) => {
    const created = { publication: false, slot: false, added: [] as string[] };
    const pub = await client.query("SELECT 1 FROM pg_publication WHERE pubname = $1", [names.publication]);
    if (pub.rowCount === 0) {
      try {
        await client.query(`CREATE PUBLICATION ${names.publication} FOR TABLE ${names.tables.map(qualifiedTable).join(", ")}`);
        created.publication = true;
      } catch (err) {
        if (!isDuplicate(err)) throw err;
      }
    }
    created.added = await alignPublication(client, names, true);
    const slot = await client.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [names.slot]);
    if (slot.rowCount === 0) {
      try {
        await client.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [names.slot]);
        created.slot = true;
      } catch (err) {
        // Another bridge created it at the same moment.
        if (!isDuplicate(err)) throw err;
      }
    }
    return created;
  });
}
