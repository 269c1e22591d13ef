import { sql, type Kysely } from "kysely";
import type { LayoutName } from "./layout-driver.js";
import { ONE_ROW_TABLE } from "./schema.js";

/**
 * What the layouts cost outside the write path: `herald trace` reads one
 * command with its events, `herald replay` reads a domain's events in commit
 * order, `herald prune` deletes expired commands (today with their outbox rows
 * by cascade). Each returns what it counts per.
 */
export interface LayoutReads {
  /** Reads one command and its events; returns its events. */
  trace(db: Kysely<any>, commandId: string): Promise<number>;
  /** Reads every event of the domain in commit order; returns events read. */
  replay(db: Kysely<any>, domain: string): Promise<number>;
  /** Deletes up to `limit` commands expired before `cutoff`; returns commands deleted. */
  prune(db: Kysely<any>, cutoff: Date, limit: number): Promise<number>;
}

const one = sql.table(ONE_ROW_TABLE);

const current: LayoutReads = {
  async trace(db, commandId) {
    await sql`SELECT * FROM herald_commands WHERE id = ${commandId}::UUID`.execute(db);
    const { rows } = await sql`
      SELECT id, subject, type, position, data, headers, created_at, published_at, stream_seq
        FROM herald_outbox WHERE command_id = ${commandId}::UUID ORDER BY position`.execute(db);
    return rows.length;
  },
  async replay(db, domain) {
    const { rows } = await sql`
      SELECT o.id, o.subject, o.type, o.data, o.headers, c.committed_at
        FROM herald_outbox AS o JOIN herald_commands AS c ON c.id = o.command_id
       WHERE o.domain = ${domain}
       ORDER BY c.committed_at, o.command_id, o.position`.execute(db);
    return rows.length;
  },
  async prune(db, cutoff, limit) {
    const r = await sql`
      DELETE FROM herald_commands WHERE id IN (
        SELECT id FROM herald_commands WHERE expires_at < ${cutoff}::TIMESTAMPTZ LIMIT ${limit}::INT)`.execute(db);
    return Number(r.numAffectedRows ?? 0);
  },
};

const oneRow: LayoutReads = {
  async trace(db, commandId) {
    const { rows } = await sql<{ events: unknown[] }>`SELECT * FROM ${one} WHERE id = ${commandId}::UUID`.execute(db);
    return rows[0]?.events.length ?? 0;
  },
  async replay(db, domain) {
    const { rows } = await sql`
      SELECT e.value->>'id' AS id, e.value->>'subject' AS subject, e.value->>'type' AS type, e.value->'data' AS data,
             e.value->'headers' AS headers, c.committed_at
        FROM ${one} AS c, jsonb_array_elements(c.events) WITH ORDINALITY AS e (value, position)
       WHERE c.domain = ${domain}
       ORDER BY c.committed_at, c.id, e.position`.execute(db);
    return rows.length;
  },
  async prune(db, cutoff, limit) {
    const r = await sql`
      DELETE FROM ${one} WHERE id IN (
        SELECT id FROM ${one} WHERE expires_at < ${cutoff}::TIMESTAMPTZ LIMIT ${limit}::INT)`.execute(db);
    return Number(r.numAffectedRows ?? 0);
  },
};

export const LAYOUT_READS: Readonly<Record<LayoutName, LayoutReads>> = { current, "one-row": oneRow, "one-row-read-first": oneRow };
