/** What a log line may say about an error: never the values of a command's payload. */
export interface LoggedError {
  /** The error's class, e.g. `DatabaseError`, `TypeError`, `InvalidEventError`. */
  type: string;
  /** SQLSTATE, errno or Herald error code, when there is one. */
  code?: string;
  /** Constraint, table or column a database error names (schema names, not values). */
  constraint?: string;
  table?: string;
  column?: string;
  /** The message with every quoted string and number elided, at most 200 characters; absent for a handler's own `Error`. */
  message?: string;
  /** Where it was thrown: the stack's frames, without its message line. */
  at?: string;
  /** The same for its cause, one level. */
  cause?: LoggedError;
}

const MAX_MESSAGE = 200;
// Greedy, from a quote to the last of its kind (or the end): quotes nest unescaped in
// messages such as JSON.parse's, and an apostrophe costs only some readable text.
const QUOTED = [/"[\s\S]*"|"[\s\S]*$/, /'[\s\S]*'|'[\s\S]*$/, /`[\s\S]*`|`[\s\S]*$/];
const NUMBER = /-?\b\d[\d_.]*(?:e[+-]?\d+)?\b/gi;

/** A message with what could be a value taken out: quoted strings and numbers. */
export function elideValues(message: string): string {
  const elided = QUOTED.reduce((m, quoted) => m.replace(quoted, "\"…\""), message).replace(NUMBER, "…");
  return elided.length > MAX_MESSAGE ? `${elided.slice(0, MAX_MESSAGE)}…` : elided;
}

const stringField = (err: object, key: string): string | undefined => {
  const value = (err as Record<string, unknown>)[key];
  return typeof value === "string" && value.length > 0 && value.length <= 128 ? value : undefined;
};

/**
 * The loggable form of an error from a command's processing. Error objects carry
 * payload values in many places: a handler's own message ("no account alice"),
 * the driver's (`invalid input syntax for type integer: "abc"`, and `detail`'s
 * `Key (id)=(alice)`), zod issues' `input`. So only the class, codes, schema
 * names, frames and, for errors not thrown by a handler as a plain `Error`, the
 * message with values elided are kept; everything else stays out of the logs.
 */
export function loggableError(err: unknown, depth = 0): LoggedError {
  if (!(err instanceof Error)) return { type: typeof err };
  const out: LoggedError = { type: err.name || err.constructor?.name || "Error" };
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" || typeof code === "number") out.code = String(code).slice(0, 32);
  for (const key of ["constraint", "table", "column"] as const) {
    const value = stringField(err, key);
    if (value) out[key] = value;
  }
  // A plain Error is most often a handler's own, whose text is the app's to choose.
  if (err.constructor !== Error) out.message = elideValues(err.message);
  const frames = err.stack?.split("\n").filter((l) => /^\s+at /.test(l)).slice(0, 8).map((l) => l.trim());
  if (frames && frames.length > 0) out.at = frames.join(" | ");
  if (depth === 0 && err.cause !== undefined) out.cause = loggableError(err.cause, 1);
  return out;
}
