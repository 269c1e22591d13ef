/** How a crashed worker process is restarted. */
export interface BackoffPolicy {
  /** Delay before the first restart after a crash, in ms. Default 250. */
  backoffMs: number;
  /** Longest delay, however many crashes in a row, in ms. Default 30000. */
  maxBackoffMs: number;
  /** A process that served this long before it exited counts as a fresh first crash, in ms. Default 60000. */
  stableAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { backoffMs: 250, maxBackoffMs: 30_000, stableAfterMs: 60_000 };

/** Delay before restarting after the `crashes`-th crash in a row: doubling from backoffMs up to maxBackoffMs. */
export function restartDelayMs(crashes: number, policy: Partial<BackoffPolicy> = {}): number {
  const { backoffMs, maxBackoffMs } = { ...DEFAULT_BACKOFF, ...stripUndefined(policy) };
  return Math.min(maxBackoffMs, backoffMs * 2 ** Math.max(0, Math.min(crashes - 1, 30)));
}

/** Whether a process that got ready at `readyAt` and exited at `now` ran long enough for its crash count to start over. */
export function ranLongEnough(readyAt: number | undefined, now: number, policy: Partial<BackoffPolicy> = {}): boolean {
  const { stableAfterMs } = { ...DEFAULT_BACKOFF, ...stripUndefined(policy) };
  return readyAt !== undefined && now - readyAt >= stableAfterMs;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
