import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { sql, type Kysely } from "kysely";
import { assertDomainName, assertRoleName, quoteIdent, quoteLiteral, workerUser } from "../security/naming.js";
import { cdcUser } from "../security/cdc-role.js";
import { writeFileAtomic } from "./key-files.js";

/** One role's new password, where it went and until when it works (never the password). */
export interface RotatedPassword {
  role: string;
  file: string;
  validUntil: Date;
}

export interface RotatePasswordsOptions {
  /** An admin connection (it runs ALTER ROLE). Required. */
  db: Kysely<any>;
  /** Directory the `<role>.password` files go to (what DATABASE_PASSWORD_FILE names). Required. */
  dir: string;
  /** Domains whose Herald roles to rotate: `herald_<d>_worker`, `herald_<d>_cdc`, `herald_<d>_operator`, those that exist. Default none. */
  domains?: readonly string[];
  /** Further roles by name; each must exist. Default none. */
  roles?: readonly string[];
  /** Seconds each password stays valid (VALID UNTIL). Required. */
  validForSeconds: number;
}

/** The file a role's password is written to in `dir`. */
export const passwordFileOf = (dir: string, role: string): string => join(dir, `${role}.password`);

/**
 * `ALTER ROLE ... WITH LOGIN PASSWORD ... VALID UNTIL ...`: the same on
 * PostgreSQL and CockroachDB. ALTER ROLE takes no bind parameters, so the
 * values are quoted literals.
 */
export const alterRolePasswordSql = (role: string, password: string, validUntil: Date): string =>
  `ALTER ROLE ${quoteIdent(role)} WITH LOGIN PASSWORD ${quoteLiteral(password)} VALID UNTIL ${quoteLiteral(validUntil.toISOString())}`;

/** A role to rotate does not exist. */
export class MissingRoleError extends Error {
  override readonly name = "MissingRoleError";
}

async function existingRoles(db: Kysely<any>, names: readonly string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  const { rows } = await sql<{ rolname: string }>`SELECT rolname FROM pg_catalog.pg_roles WHERE rolname IN (${sql.join(names)})`.execute(db);
  return new Set(rows.map((r) => r.rolname));
}

/**
 * Gives each role a fresh random password valid for `validForSeconds`
 * (`ALTER ROLE ... WITH LOGIN PASSWORD ... VALID UNTIL ...`, the same on
 * PostgreSQL and CockroachDB) and writes it to `<dir>/<role>.password` (mode
 * 0600, replaced atomically). The old password stops working at once;
 * sessions already open stay (both servers check passwords at login only).
 */
export async function rotateDatabasePasswords(options: RotatePasswordsOptions): Promise<RotatedPassword[]> {
  const explicit = (options.roles ?? []).map(assertRoleName);
  const byDomain = (options.domains ?? []).map(assertDomainName).flatMap((d) => [workerUser(d), cdcUser(d), `herald_${d}_operator`]);
  const found = await existingRoles(options.db, [...new Set([...explicit, ...byDomain])]);
  const missing = explicit.filter((r) => !found.has(r));
  if (missing.length) throw new MissingRoleError(`no such database role: ${missing.join(", ")} (create it with herald grants first)`);
  const roles = [...new Set([...explicit, ...byDomain.filter((r) => found.has(r))])];
  if (roles.length === 0) throw new MissingRoleError("no Herald role to rotate: none of the domains' roles exists (herald grants creates them)");
  const rotated: RotatedPassword[] = [];
  for (const role of roles) {
    // 32 random bytes as base64url: no quote or backslash can reach the SQL text.
    const password = randomBytes(32).toString("base64url");
    const validUntil = new Date(Date.now() + options.validForSeconds * 1000);
    await sql.raw(alterRolePasswordSql(role, password, validUntil)).execute(options.db);
    const file = passwordFileOf(options.dir, role);
    await writeFileAtomic(file, `${password}\n`);
    rotated.push({ role, file, validUntil });
  }
  return rotated;
}
