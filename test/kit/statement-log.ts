import pg from "pg";

/**
 * Records every SQL text the process sends through node-postgres while a log
 * is open, at the driver (pg.Client#query, which pools and Kysely go through),
 * and reduces each to a shape for test/cockroachdb/audited-statements.ts.
 */

export interface StatementLog {
  /** Raw texts sent since the log opened, in order (a message of several statements is one text). */
  readonly texts: readonly string[];
  /** The same queries with their parameter values (empty for a text sent without parameters). */
  readonly queries: readonly LoggedQuery[];
  /** Stops recording. */
  close(): void;
}

/** One query as the driver was given it. */
export interface LoggedQuery {
  readonly text: string;
  readonly values: readonly unknown[];
}

const open = new Set<{ texts: string[]; queries: LoggedQuery[] }>();
let patched = false;

function patch(): void {
  if (patched) return;
  patched = true;
  const original = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  (pg.Client.prototype as { query: unknown }).query = function query(this: pg.Client, ...args: unknown[]) {
    if (open.size > 0) {
      const first = args[0] as string | { text?: unknown } | undefined;
      const text = typeof first === "string" ? first : typeof first?.text === "string" ? first.text : undefined;
      const given = typeof first === "object" && Array.isArray((first as { values?: unknown }).values) ? (first as { values: unknown[] }).values : args[1];
      const values = Array.isArray(given) ? given : [];
      if (text !== undefined)
        for (const log of open) {
          log.texts.push(text);
          log.queries.push({ text, values });
        }
    }
    return original.apply(this, args);
  };
}

/** Starts recording; every open log gets every statement. */
export function openStatementLog(): StatementLog {
  patch();
  const log = { texts: [] as string[], queries: [] as LoggedQuery[] };
  open.add(log);
  return { texts: log.texts, queries: log.queries, close: () => void open.delete(log) };
}

/** Splits a message into statements at top-level semicolons (not in quotes, dollar quotes or comments). */
export function splitStatements(text: string): string[] {
  const out: string[] = [];
  let current = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "-" && text[i + 1] === "-") {
      const end = text.indexOf("\n", i);
      i = end < 0 ? text.length : end;
      current += " ";
      continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < text.length && !(text[j] === c && text[j + 1] !== c)) j += text[j] === c ? 2 : 1;
      current += text.slice(i, j + 1);
      i = j;
      continue;
    }
    if (c === "$") {
      const tag = /^\$[A-Za-z_]*\$/.exec(text.slice(i))?.[0];
      if (tag) {
        const end = text.indexOf(tag, i + tag.length);
        const stop = end < 0 ? text.length : end + tag.length;
        current += text.slice(i, stop);
        i = stop - 1;
        continue;
      }
    }
    if (c === ";") {
      if (current.trim()) out.push(current.trim());
      current = "";
      continue;
    }
    current += c;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

/** A repeated row `(…)` of a VALUES list, nested parentheses allowed one level deep. */
const REPEATED_ROW = /(\((?:[^()]|\([^()]*\))*\))(?:\s*,\s*\1)+/g;

/**
 * The shape of one statement: whitespace collapsed, literals and parameters
 * replaced by `?`, VALUES and IN lists of any length written as one item and `…`, and the
 * per-app migration tables named `herald_migration{app}`.
 */
export function statementShape(statement: string): string {
  let s = statement.replace(/\s+/g, " ").trim();
  s = s.replace(/\bE'/g, "'").replace(/'(?:[^']|'')*'/g, "'?'");
  s = s.replace(/\$\d+/g, "$?");
  // Values written in as literals (a message of several statements) may be NULL or not.
  s = s.replace(/(?<=[(,] )NULL(?=[,)])|(?<=[(,])NULL(?=[,)])/g, "'?'");
  s = s.replace(/(?<![\w$"])\d+(?:\.\d+)?(?![\w])/g, "?");
  s = s.replace(/\bherald_migration(?:_[a-z0-9_]*?)??(_kysely_lock|_lock)?\b/g, (_m, suffix: string | undefined) => `herald_migration{app}${suffix ?? ""}`);
  s = s.replace(/\bherald_t_[0-9a-f]+\b/g, "{database}");
  s = s.replace(/\bin \(\$\?(?:, \$\?)*\)/gi, (m) => m.replace(/\(.*\)/, "($?, …)"));
  for (let before = ""; before !== s; ) {
    before = s;
    s = s.replace(REPEATED_ROW, "$1, …");
  }
  // One row or many: the same statement.
  return s.replace(/(\bvalues\s*)(\((?:[^()]|\([^()]*\))*\))(?!, …)/gi, "$1$2, …");
}

/** The shapes of every statement of the texts, deduplicated, in first-seen order. */
export function shapesOf(texts: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const text of texts) for (const statement of splitStatements(text)) seen.add(statementShape(statement));
  return [...seen];
}
