import { splitStatements } from "../kit/statement-log.js";

/**
 * The CockroachDB rule for a migration file, which Herald sends as one batch
 * (one implicit transaction): a `CREATE TABLE` with a foreign key to a table
 * that already existed (one this file does not create) must not be followed,
 * in the same file, by any statement that uses the new table. CockroachDB's
 * docs state the limit for any `CREATE TABLE … FOREIGN KEY`
 * (https://www.cockroachlabs.com/docs/v24.3/known-limitations#schema-changes-within-transactions);
 * when every table involved is new in the same transaction it works, which
 * Herald's own first migration relies on (docs/cockroachdb.md, row S4).
 */

const NAME = String.raw`"?([A-Za-z_][A-Za-z0-9_]*)"?`;
const CREATE_TABLE = new RegExp(String.raw`^CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:${NAME}\.)?${NAME}`, "i");
const REFERENCES = new RegExp(String.raw`\bREFERENCES\s+(?:${NAME}\.)?${NAME}`, "gi");

const mentions = (statement: string, table: string): boolean => new RegExp(String.raw`(^|[^A-Za-z0-9_])"?${table}"?($|[^A-Za-z0-9_])`, "i").test(statement);

/** Each statement of `sql` that breaks the rule, with the reason; empty when the file keeps it. */
export function foreignKeyBatchViolations(sql: string): string[] {
  const statements = splitStatements(sql);
  const created = new Set<string>();
  /** New tables whose foreign key points at a table that existed before this file. */
  const pinned = new Map<string, string>();
  const found: string[] = [];
  for (const statement of statements) {
    for (const [table, referenced] of pinned) {
      if (mentions(statement, table)) {
        found.push(`"${statement.slice(0, 80)}…" uses ${table}, created in the same file with a foreign key to the existing table ${referenced}: move it to a migration file of its own`);
      }
    }
    const create = CREATE_TABLE.exec(statement);
    if (!create) continue;
    const table = create[2]!.toLowerCase();
    created.add(table);
    for (const ref of statement.matchAll(REFERENCES)) {
      const referenced = ref[2]!.toLowerCase();
      if (referenced !== table && !created.has(referenced)) pinned.set(table, referenced);
    }
  }
  return found;
}
