import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * Finds the tables a folder of `.sql` migrations leaves behind, by reading
 * `CREATE TABLE [IF NOT EXISTS]`, `DROP TABLE` and `ALTER TABLE ... RENAME TO`
 * in file order. Not a SQL parser: strings, quoted bodies and comments are
 * blanked first so text inside them is never taken for a statement.
 */

/** Replaces comments and string literals with spaces; keeps "quoted identifiers". */
function blankNonCode(sql: string): string {
  let out = "";
  let i = 0;
  while (i < sql.length) {
    const rest = sql.slice(i);
    const dollar = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(rest);
    let end: number;
    if (rest.startsWith("--")) end = sql.indexOf("\n", i);
    else if (rest.startsWith("/*")) {
      const close = sql.indexOf("*/", i + 2);
      end = close === -1 ? sql.length : close + 2;
    }
    else if (sql[i] === "'") {
      end = i + 1;
      while (end < sql.length && !(sql[end] === "'" && sql[end + 1] !== "'")) end += sql[end] === "'" ? 2 : 1;
      end++;
    } else if (sql[i] === '"') {
      // A quoted identifier is code: copy it whole, so `--` inside it is no comment.
      end = i + 1;
      while (end < sql.length && !(sql[end] === '"' && sql[end + 1] !== '"')) end += sql[end] === '"' ? 2 : 1;
      out += sql.slice(i, end + 1);
      i = end + 1;
      continue;
    } else if (dollar) {
      const close = sql.indexOf(dollar[0], i + dollar[0].length);
      end = close === -1 ? sql.length : close + dollar[0].length;
    } else {
      out += sql[i++];
      continue;
    }
    if (end <= i) end = sql.length;
    out += " ".repeat(end - i);
    i = end;
  }
  return out;
}

const IDENT = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const QUALIFIED = String.raw`(${IDENT}(?:\s*\.\s*${IDENT}){0,2})`;

/** The unqualified name as the server stores it: unquoted names fold to lowercase. */
function tableName(qualified: string): string {
  const parts = qualified.match(new RegExp(IDENT, "g")) ?? [qualified];
  const last = parts[parts.length - 1]!;
  return last.startsWith('"') ? last.slice(1, -1).replaceAll('""', '"') : last.toLowerCase();
}

/** Tables created (and not dropped again) by one SQL text, in order of creation. */
export function tablesCreatedBy(sqlText: string, initial: readonly string[] = []): string[] {
  const code = blankNonCode(sqlText);
  const tables = [...initial];
  const statement = new RegExp(
    String.raw`\b(?:CREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?(TEMP|TEMPORARY|UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?${QUALIFIED}` +
      String.raw`|DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(${QUALIFIED.slice(1, -1)}(?:\s*,\s*${QUALIFIED.slice(1, -1)})*)` +
      String.raw`|ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?${QUALIFIED}\s+RENAME\s+TO\s+${QUALIFIED})`,
    "gi",
  );
  for (const m of code.matchAll(statement)) {
    const [, temp, created, dropped, renamedFrom, renamedTo] = m;
    if (created && !/^TEMP/i.test(temp ?? "")) {
      const name = tableName(created);
      if (!tables.includes(name)) tables.push(name);
    } else if (dropped) {
      const names = (dropped.match(new RegExp(QUALIFIED.slice(1, -1), "g")) ?? []).map(tableName);
      for (const name of names) {
        const at = tables.indexOf(name);
        if (at !== -1) tables.splice(at, 1);
      }
    } else if (renamedFrom && renamedTo) {
      const at = tables.indexOf(tableName(renamedFrom));
      if (at !== -1) tables[at] = tableName(renamedTo);
    }
  }
  return tables;
}

/** Tables left by every `.sql` file of a migrations folder, applied in file-name order. */
export async function tablesInMigrations(folder: string): Promise<string[]> {
  const files = (await readdir(folder)).filter((f) => f.endsWith(".sql")).sort();
  let tables: string[] = [];
  for (const file of files) tables = tablesCreatedBy(await readFile(join(folder, file), "utf8"), tables);
  return tables;
}
