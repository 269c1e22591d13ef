import { sql, type Kysely } from "kysely";
import { WORKER_PRIVILEGES } from "./grants.js";

/** The table grants of the current database and schema, as the server reports them. */
export interface DatabaseGrants {
  /** Every role (and user) of the server. */
  readonly roles: ReadonlySet<string>;
  /** Base tables of the current schema. */
  readonly tables: readonly string[];
  /** role → table → privileges (upper case; `ALL` expanded). */
  readonly grants: ReadonlyMap<string, ReadonlyMap<string, ReadonlySet<string>>>;
}

/**
 * Reads grants from `information_schema.role_table_grants`, which PostgreSQL
 * and CockroachDB both have. PostgreSQL lists only grants that involve roles
 * the session is a member of, so run the audit as a superuser or admin.
 */
export async function readDatabaseGrants(db: Kysely<any>): Promise<DatabaseGrants> {
  const [roles, tables, rows] = await Promise.all([
    sql<{ name: string }>`SELECT rolname AS name FROM pg_catalog.pg_roles`.execute(db),
    sql<{ name: string }>`
      SELECT table_name AS name FROM information_schema.tables
      WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
      ORDER BY table_name`.execute(db),
    sql<{ grantee: string; table: string; privilege: string }>`
      SELECT grantee, table_name AS "table", privilege_type AS privilege
      FROM information_schema.role_table_grants
      WHERE table_schema = current_schema() AND table_catalog = current_database()`.execute(db),
  ]);
  const grants = new Map<string, Map<string, Set<string>>>();
  for (const row of rows.rows) {
    const byTable = grants.get(row.grantee) ?? new Map<string, Set<string>>();
    grants.set(row.grantee, byTable);
    const privileges = byTable.get(row.table) ?? new Set<string>();
    byTable.set(row.table, privileges);
    const privilege = row.privilege.toUpperCase();
    // CockroachDB reports a blanket grant as ALL.
    for (const p of privilege === "ALL" ? WORKER_PRIVILEGES : [privilege]) privileges.add(p);
  }
  return { roles: new Set(roles.rows.map((r) => r.name)), tables: tables.rows.map((r) => r.name), grants };
}
