import { sql, type Kysely } from "kysely";
import { SLOT_STATUS_SQL, toSlotStatus, type PostgresSlotStatus, type SlotStatusRow } from "../cdc/postgres-status.js";
import type { DialectName } from "../db/connection.js";

/**
 * Every logical replication slot of this database (slots are server-wide; a
 * logical one belongs to one database) with its lag and retained
 * WAL (the query of `herald cdc status`), at most 50. CockroachDB has no
 * slots (its changefeeds keep their cursor in a job): an empty list there.
 */
export async function logicalSlots(db: Kysely<any>, dialect: DialectName): Promise<PostgresSlotStatus[]> {
  if (dialect === "cockroachdb") return [];
  const { rows } = await sql<SlotStatusRow>`${sql.raw(SLOT_STATUS_SQL)} WHERE s.slot_type = 'logical' AND s.database = current_database() ORDER BY s.slot_name LIMIT 50`.execute(db);
  return rows.map(toSlotStatus);
}
