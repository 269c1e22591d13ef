import { sql, type Kysely } from "kysely";
import type { HeraldTables } from "../db/schema.js";

/**
 * The domains the database holds commands of, sorted, at most `limit`. A loose
 * index scan over herald_commands' (domain, idempotency_key) key: one probe per
 * domain, not a scan of every command (PostgreSQL has no skip scan for DISTINCT).
 * CockroachDB runs recursive CTEs and correlated subqueries alike (v24.3 docs:
 * common-table-expressions, subqueries); each probe is one seek on that index.
 */
export async function knownDomains(db: Kysely<HeraldTables>, limit = 21): Promise<string[]> {
  const { rows } = await sql<{ domain: string }>`
    WITH RECURSIVE d (domain) AS (
      (SELECT domain FROM herald_commands ORDER BY domain LIMIT 1)
      UNION ALL
      SELECT (SELECT c.domain FROM herald_commands c WHERE c.domain > d.domain ORDER BY c.domain LIMIT 1)
      FROM d WHERE d.domain IS NOT NULL
    )
    SELECT domain FROM d WHERE domain IS NOT NULL LIMIT ${limit}`.execute(db);
  return rows.map((r) => r.domain);
}

/** True when the database holds a command of `domain` (one index probe). */
export async function domainExists(db: Kysely<HeraldTables>, domain: string): Promise<boolean> {
  const row = await db.selectFrom("herald_commands").select("id").where("domain", "=", domain).limit(1).executeTakeFirst();
  return row !== undefined;
}

/**
 * Herald tables the session's role may write (INSERT, UPDATE or DELETE), by
 * `has_table_privilege`, which PostgreSQL and CockroachDB both have. A
 * read-only console expects none.
 */
export async function writableHeraldTables(db: Kysely<HeraldTables>, tables: readonly string[]): Promise<string[]> {
  const writable: string[] = [];
  for (const table of tables) {
    const { rows } = await sql<{ w: boolean }>`SELECT has_table_privilege(${table}, 'INSERT, UPDATE, DELETE') AS w`.execute(db);
    if (rows[0]?.w) writable.push(table);
  }
  return writable;
}
