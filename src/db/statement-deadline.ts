import pg from "pg";

/** How long one statement may take, on both sides of the wire. */
export interface StatementDeadlineOptions {
  /**
   * Client-side bound per statement in ms: past it the connection is destroyed
   * and the statement fails with StatementTimeoutError. 0 turns both bounds off.
   * Default 5000.
   */
  statementTimeoutMs?: number;
  /** Server-side `lock_timeout` in ms (a lock wait fails with 55P03, retried). 0: none. Default 2000. */
  lockTimeoutMs?: number;
  /**
   * Server-side `idle_in_transaction_session_timeout` in ms: a session whose
   * client vanished mid-transaction releases its locks. 0: none. Default 30000.
   */
  idleInTransactionTimeoutMs?: number;
}

export const DEFAULT_STATEMENT_TIMEOUT_MS = 5000;
export const DEFAULT_LOCK_TIMEOUT_MS = 2000;
export const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS = 30_000;
/**
 * The server's `statement_timeout` is the client's bound plus this margin: the
 * client gives up first (a clean, classified error), the server then stops the
 * abandoned work instead of running it to the end.
 */
export const SERVER_TIMEOUT_MARGIN_MS = 1000;

/**
 * A statement got no answer in time. Its connection was destroyed, so the
 * outcome is unknown: `code` is the errno of a timed-out connection, which
 * Herald's error classification (db/sqlstate.ts) reads as a lost connection:
 * retried before COMMIT, resolved by re-reading the key when it hits COMMIT.
 */
export class StatementTimeoutError extends Error {
  override readonly name = "StatementTimeoutError";
  readonly code = "ETIMEDOUT";
  constructor(
    readonly timeoutMs: number,
    readonly statement: string,
  ) {
    super(`the database did not answer within ${timeoutMs} ms (${statement}); the connection was closed`);
  }
}

/** The session settings that bound statements server-side; both PostgreSQL and CockroachDB accept them. */
export function sessionTimeoutStatement(options: StatementDeadlineOptions): string | undefined {
  const statement = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const lock = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const idle = options.idleInTransactionTimeoutMs ?? DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS;
  const sets: string[] = [];
  if (statement > 0) sets.push(`SET statement_timeout = ${Math.floor(statement + SERVER_TIMEOUT_MARGIN_MS)}`);
  if (lock > 0) sets.push(`SET lock_timeout = ${Math.floor(lock)}`);
  if (idle > 0) sets.push(`SET idle_in_transaction_session_timeout = ${Math.floor(idle)}`);
  return sets.length ? sets.join("; ") : undefined;
}

const describe = (config: unknown): string => {
  const text = typeof config === "string" ? config : (config as { text?: string; name?: string } | undefined)?.text ?? "";
  const first = text.trim().split(/\s+/).slice(0, 3).join(" ");
  return first.length > 60 ? `${first.slice(0, 60)}…` : first || "statement";
};

/**
 * A pg Client class whose promise-returning queries fail after `timeoutMs`
 * with StatementTimeoutError and destroy the connection. pg's own
 * `query_timeout` rejects the promise but leaves the connection busy with the
 * unanswered statement (outside pipeline mode), so the pool would hand out a
 * connection that never answers again. Destroying the socket fails every
 * query queued on it with the same error, and marks the client unusable
 * before that error is delivered, so the pool drops it on release.
 */
export function deadlineClient(Base: typeof pg.Client, timeoutMs: number): typeof pg.Client {
  if (!(timeoutMs > 0)) return Base;
  class DeadlineClient extends Base {
    override query(...args: unknown[]): any {
      const [config, values, callback] = args;
      const arm = () => {
        const timer = setTimeout(() => {
          const connection = (this as unknown as { connection?: { stream?: { destroy(err?: Error): void } } }).connection;
          connection?.stream?.destroy(new StatementTimeoutError(timeoutMs, describe(config)));
        }, timeoutMs);
        timer.unref();
        return timer;
      };
      // A query object with its own callback (Herald's statement sent with COMMIT) is bounded the same way.
      const query = config as { submit?: unknown; callback?: (...a: unknown[]) => void } | undefined;
      if (typeof query?.submit === "function" && typeof query.callback === "function") {
        const done = query.callback;
        const timer = arm();
        query.callback = (...a: unknown[]) => {
          clearTimeout(timer);
          done(...a);
        };
        return (super.query as (...a: unknown[]) => unknown)(...args);
      }
      const promised = typeof callback !== "function" && typeof values !== "function" && typeof query?.submit !== "function";
      const result = (super.query as (...a: unknown[]) => unknown)(...args);
      if (!promised) return result;
      const timer = arm();
      return (result as Promise<unknown>).finally(() => clearTimeout(timer));
    }
  }
  return DeadlineClient as unknown as typeof pg.Client;
}
