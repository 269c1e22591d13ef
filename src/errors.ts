/**
 * The few error classes Herald throws. Each carries the data a caller needs to
 * decide what to do next, and wraps its origin in `cause`.
 */

/** Error codes of the wire protocol (docs/protocol.md), with their status. */
export const ERROR_STATUS = {
  invalid_json: 400,
  invalid_command: 400,
  missing_idempotency_key: 400,
  invalid_idempotency_key: 400,
  unknown_command: 404,
  idempotency_key_reused: 409,
  payload_too_large: 413,
  unavailable: 503,
  unknown_outcome: 503,
  overloaded: 503,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/**
 * A request Herald refused without storing anything (an `error` reply).
 * `status` follows HTTP conventions and goes out as `Nats-Service-Error-Code`.
 */
export class CommandError extends Error {
  override readonly name = "CommandError";
  readonly status: number;
  constructor(
    readonly code: ErrorCode | (string & {}),
    message: string,
    options: { status?: number; details?: unknown; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = options.status ?? ERROR_STATUS[code as ErrorCode] ?? 500;
    this.details = options.details;
  }
  readonly details: unknown;
}

/** The answer when a command's transaction budget ran out before it committed. */
export function exhaustedError(cause?: unknown): CommandError {
  return new CommandError("unavailable", "the database is unavailable or too contended; retry with the same key", { cause });
}

/**
 * The answer when a command's deadline passed after its COMMIT went out and
 * before the outcome was known: it may have committed. Retrying with the same
 * key returns the stored outcome if it did, or runs it if it did not.
 */
export function unknownOutcomeError(cause?: unknown): CommandError {
  return new CommandError("unknown_outcome", "the commit's outcome is not known yet; retry with the same key to learn it", { cause });
}

/**
 * COMMIT may or may not have taken effect (CockroachDB 40003, or the connection
 * died during COMMIT). Callers must re-read before answering.
 */
export class AmbiguousCommitError extends Error {
  override readonly name = "AmbiguousCommitError";
  constructor(options: { cause?: unknown } = {}) {
    super("the transaction's outcome is unknown: it may or may not have committed", options);
  }
}

/** A transaction kept failing with retryable errors until attempts or deadline ran out. */
export class RetriesExhaustedError extends Error {
  override readonly name = "RetriesExhaustedError";
  constructor(
    readonly attempts: number,
    readonly lastSqlState: string | undefined,
    options: { cause?: unknown } = {},
  ) {
    super(`transaction gave up after ${attempts} attempt(s) (last SQLSTATE ${lastSqlState ?? "none"})`, options);
  }
}

/** Another migrator holds the migration lock and did not release it in time. */
export class MigrationLockError extends Error {
  override readonly name = "MigrationLockError";
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
  }
}
