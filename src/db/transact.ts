import type { ControlledTransaction, Kysely } from "kysely";
import { AmbiguousCommitError, RetriesExhaustedError } from "../errors.js";
import { classifyError, findSqlState, isConnectionError } from "./sqlstate.js";

/** How a transaction is retried. */
export interface RetryPolicy {
  /** Attempts in all, the first included. Default 20. */
  maxAttempts: number;
  /** Time budget in ms from the first attempt; no retry starts after it. Default 10000. */
  deadlineMs: number;
  /** Backoff cap of the first retry in ms; doubles per retry (full jitter). Default 2. */
  baseDelayMs: number;
  /** Largest backoff cap in ms. Default 250. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 20,
  deadlineMs: 10_000,
  baseDelayMs: 2,
  maxDelayMs: 250,
});

/** Told about each retry: which attempt failed, why, and how long we wait. */
export interface RetryEvent {
  attempt: number;
  sqlState: string | undefined;
  delayMs: number;
  error: unknown;
}

export interface TransactOptions {
  /** Retry policy; missing fields take the defaults above. */
  policy?: Partial<RetryPolicy>;
  /**
   * When the time budget ends, in epoch ms. Default: `policy.deadlineMs` after
   * the first attempt starts. A caller that already spent part of the budget
   * (a command whose batch conflicted) passes its own; the first attempt runs regardless.
   */
  deadlineAt?: number;
  /** Called before sleeping for a retry. */
  onRetry?: (event: RetryEvent) => void;
  /** Wraps each attempt, e.g. in a tracing span. Default: runs it as is. */
  aroundAttempt?: <R>(attempt: number, run: () => Promise<R>) => Promise<R>;
}

export interface TransactResult<T> {
  value: T;
  /** Attempts made, 1 when the first one committed. */
  attempts: number;
}

/** Full-jitter exponential backoff (AWS architecture blog's "full jitter"). */
export function backoffDelay(policy: RetryPolicy, retry: number): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.random() * cap;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function attemptOnce<DB, T>(
  db: Kysely<DB>,
  fn: (tx: ControlledTransaction<DB>, attempt: number) => Promise<T>,
  attempt: number,
): Promise<T> {
  const tx = await db.startTransaction().setIsolationLevel("serializable").execute();
  let value: T;
  try {
    value = await fn(tx, attempt);
  } catch (err) {
    await tx.rollback().execute().catch(() => undefined);
    throw err;
  }
  try {
    await tx.commit().execute();
  } catch (err) {
    // Kysely keeps the connection after a failed COMMIT; rolling back releases it.
    await tx.rollback().execute().catch(() => undefined);
    // A definite serialization failure at COMMIT (PostgreSQL reports some there) is
    // retryable; a broken connection or 40003 leaves the outcome unknown.
    const disposition = classifyError(err);
    if (disposition === "retry") throw err;
    if (disposition === "ambiguous" || isConnectionError(err)) throw new AmbiguousCommitError({ cause: err });
    throw err;
  }
  return value;
}

/**
 * Runs `fn` in a SERIALIZABLE transaction and commits it, retrying the whole
 * transaction on serialization failures and on connections lost before COMMIT.
 * Throws AmbiguousCommitError when COMMIT's outcome is unknown, and
 * RetriesExhaustedError when attempts or the deadline run out.
 */
export async function transact<DB, T>(
  db: Kysely<DB>,
  fn: (tx: ControlledTransaction<DB>, attempt: number) => Promise<T>,
  options: TransactOptions = {},
): Promise<TransactResult<T>> {
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.policy };
  const deadline = options.deadlineAt ?? Date.now() + policy.deadlineMs;
  const around = options.aroundAttempt ?? ((_attempt, run) => run());
  for (let attempt = 1; ; attempt++) {
    try {
      const value = await around(attempt, () => attemptOnce(db, fn, attempt));
      return { value, attempts: attempt };
    } catch (err) {
      if (err instanceof AmbiguousCommitError) throw err;
      const disposition = classifyError(err);
      if (disposition !== "retry" && disposition !== "connection") throw err;
      const sqlState = findSqlState(err);
      const delayMs = backoffDelay(policy, attempt);
      if (attempt >= policy.maxAttempts || Date.now() + delayMs > deadline) {
        throw new RetriesExhaustedError(attempt, sqlState, { cause: err });
      }
      options.onRetry?.({ attempt, sqlState, delayMs, error: err });
      await sleep(delayMs);
    }
  }
}
