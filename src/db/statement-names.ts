/**
 * Names for statements worth preparing. A parameterized statement whose text
 * has been seen a few times gets a name; the driver then sends it as a named
 * prepared statement, which each connection parses and plans once instead of
 * on every execution. Texts that vary (multi-row VALUES lists of every length)
 * stay unnamed: only the first `maxStatements` hot texts get names, and at most
 * `maxTracked` texts are counted, so memory stays bounded on both sides.
 */
export interface StatementNames {
  /** The name to prepare `text` under, or undefined to send it unnamed. */
  nameFor(text: string): string | undefined;
}

export interface StatementNamesOptions {
  /** Executions of a text before it is prepared. Default 3. */
  hotAfter?: number;
  /** Most texts prepared (per process; each connection prepares those it runs). Default 200. */
  maxStatements?: number;
  /** Most texts counted while they are not hot yet. Default 2000. */
  maxTracked?: number;
  /** Longest text prepared, in characters. Default 4096. */
  maxLength?: number;
}

/** Only plain data statements are prepared: DDL and session commands are not worth it. */
const PREPARABLE = /^\s*(select|insert|update|delete|with)\b/i;

export function createStatementNames(options: StatementNamesOptions = {}): StatementNames {
  const hotAfter = options.hotAfter ?? 3;
  const maxStatements = options.maxStatements ?? 200;
  const maxTracked = options.maxTracked ?? 2000;
  const maxLength = options.maxLength ?? 4096;
  const names = new Map<string, string>();
  const counts = new Map<string, number>();
  return {
    nameFor(text) {
      const name = names.get(text);
      if (name !== undefined) return name;
      if (names.size >= maxStatements || text.length > maxLength || !PREPARABLE.test(text)) return undefined;
      const seen = (counts.get(text) ?? 0) + 1;
      if (seen < hotAfter) {
        if (counts.has(text) || counts.size < maxTracked) counts.set(text, seen);
        return undefined;
      }
      counts.delete(text);
      const named = `herald_${names.size + 1}`;
      names.set(text, named);
      return named;
    },
  };
}
