import type { DialectName } from "../db/connection.js";
import { assertDomainName, assertRoleName, quoteIdent, quoteLiteral, workerUser } from "./naming.js";

/** What a worker does to every table it touches: read, claim, write, prune. */
export const WORKER_PRIVILEGES = ["SELECT", "INSERT", "UPDATE", "DELETE"] as const;
export type TablePrivilege = (typeof WORKER_PRIVILEGES)[number];

export interface GrantsOptions {
  /** Domain name. Required. */
  domain: string;
  /** Herald's own tables (from its migrations). Required. */
  heraldTables: readonly string[];
  /** The domain's own tables (from the app's migrations). Required. */
  domainTables: readonly string[];
  /** Which server the SQL is for. Default `cockroachdb`. */
  dialect?: DialectName;
  /** Database role to create. Default `herald_<domain>_worker`. */
  role?: string;
}

/**
 * SQL creating the worker role of a domain with exactly the grants its tables
 * need: DML on Herald's tables and the domain's, nothing on other tables, no
 * DDL. Re-running it resets the role's table grants to this list. It sets no
 * password: that is done apart (or client certificates are used), so secrets
 * never pass through generated files.
 */
export function grantsSql(options: GrantsOptions): string {
  const domain = assertDomainName(options.domain);
  const roleName = assertRoleName(options.role ?? workerUser(domain));
  const dialect = options.dialect ?? "cockroachdb";
  const role = quoteIdent(roleName);
  const privileges = WORKER_PRIVILEGES.join(", ");
  const tables = (list: readonly string[]) => list.map(quoteIdent).join(", ");
  const domainTables = options.domainTables.filter((t) => !options.heraldTables.includes(t));
  const create =
    dialect === "cockroachdb"
      ? [`CREATE ROLE IF NOT EXISTS ${role} WITH LOGIN;`]
      : [
          // PostgreSQL has no CREATE ROLE IF NOT EXISTS.
          "DO $$",
          "BEGIN",
          `  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = ${quoteLiteral(roleName)}) THEN`,
          `    CREATE ROLE ${role} LOGIN;`,
          "  END IF;",
          "END",
          "$$;",
        ];
  return [
    `-- Database role for the workers of Herald domain "${domain}" (${dialect}).`,
    "-- Run as an admin after `herald migrate`: GRANT needs the tables to exist.",
    "--",
    "-- Herald's tables are shared by every domain of this database:",
    // A line break in a (quoted) table name must not end the comment.
    `--   ${options.heraldTables.join(", ").replace(/[\u0000-\u001f\u007f]/g, "?") || "(none)"}`,
    "-- Rows carry a `domain` column and a worker only touches its own, but the",
    "-- database does not enforce that. A stricter deployment gives each domain its",
    "-- own database (and runs this script in each).",
    "--",
    "-- The role gets no password here. Set one apart (ALTER ROLE ... WITH PASSWORD,",
    "-- from a secret store, never from a file under version control) or use client",
    "-- certificates, and let the worker read it from DATABASE_PASSWORD_FILE.",
    ...create,
    // Start from nothing, so re-running also removes grants that are no longer needed.
    `REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${role};`,
    `GRANT USAGE ON SCHEMA public TO ${role};`,
    ...(options.heraldTables.length ? [`GRANT ${privileges} ON TABLE ${tables(options.heraldTables)} TO ${role};`] : []),
    ...(domainTables.length ? [`GRANT ${privileges} ON TABLE ${tables(domainTables)} TO ${role};`] : []),
    "",
  ].join("\n");
}
