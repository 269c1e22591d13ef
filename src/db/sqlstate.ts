/**
 * SQLSTATE handling shared by PostgreSQL and CockroachDB. Drivers and Kysely
 * wrap errors, so the code is searched through the whole `cause` chain.
 */

/** What to do after an error from a transaction attempt. */
export type ErrorDisposition = "retry" | "ambiguous" | "connection" | "fatal";

/** SQLSTATEs after which running the whole transaction again is correct. */
const RETRY: Readonly<Record<string, string>> = {
  "40001": "serialization_failure (CockroachDB: restart transaction)",
  "40P01": "deadlock_detected",
  // A lock wait cut short by lock_timeout (group commit sets one): the holder
  // will usually commit, which would fail this SERIALIZABLE transaction anyway.
  "55P03": "lock_not_available",
};

/** COMMIT may have happened: the caller must find out before answering. */
const AMBIGUOUS: Readonly<Record<string, string>> = {
  "40003": "statement_completion_unknown (CockroachDB: result is ambiguous)",
};

/** Class 08 and a few server states: the connection is gone or unusable. */
const CONNECTION_PREFIXES = ["08", "57P01", "57P02", "57P03", "53300"];

const CONNECTION_ERRNOS = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EHOSTUNREACH"]);

const CONNECTION_MESSAGES = [
  "Connection terminated",
  "connection is closed",
  "Client has encountered a connection error",
  "timeout exceeded when trying to connect",
  "Client was closed",
];

function* causeChain(err: unknown): Generator<unknown> {
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current !== undefined && current !== null && !seen.has(current)) {
    seen.add(current);
    yield current;
    current = (current as { cause?: unknown }).cause;
  }
}

/** The first five-character SQLSTATE found in `err` or its causes. */
export function findSqlState(err: unknown): string | undefined {
  for (const e of causeChain(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/** True when the error means the database connection broke rather than the statement failed. */
export function isConnectionError(err: unknown): boolean {
  for (const e of causeChain(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") {
      if (CONNECTION_ERRNOS.has(code)) return true;
      if (/^[0-9A-Z]{5}$/.test(code) && CONNECTION_PREFIXES.some((p) => code.startsWith(p))) return true;
    }
    const message = (e as { message?: unknown }).message;
    if (typeof message === "string" && CONNECTION_MESSAGES.some((m) => message.includes(m))) return true;
  }
  return false;
}

/** Classifies an error raised by a statement (not by COMMIT; see transact.ts). */
export function classifyError(err: unknown): ErrorDisposition {
  const state = findSqlState(err);
  if (state !== undefined) {
    if (state in RETRY) return "retry";
    if (state in AMBIGUOUS) return "ambiguous";
  }
  if (isConnectionError(err)) return "connection";
  return "fatal";
}

/** Human label for a retryable or ambiguous SQLSTATE, for logs and spans. */
export function describeSqlState(state: string): string | undefined {
  return RETRY[state] ?? AMBIGUOUS[state];
}
