/**
 * How many group-commit transactions may run side by side. It starts at one
 * and grows by one only after a run of conflict-free batches that left a full
 * batch waiting (there was demand for more); a conflict halves it, and makes
 * the next growth wait twice as long. Big transactions side by side mostly
 * abort each other, and on PostgreSQL a deadlock between two of them costs a
 * full `deadlock_timeout` (1 s by default) before either moves: growing
 * cautiously keeps those rare, while a slow or distant database (CockroachDB
 * over a network) still earns the parallelism it needs.
 */
export interface TransactionCap {
  readonly current: number;
  /** A batch committed; `demand` says a full batch was waiting when it started. */
  committed(demand: boolean): void;
  /** A batch conflicted (serialization failure, deadlock). */
  conflicted(): void;
}

export interface TransactionCapOptions {
  /** Upper bound. Default 10. */
  max?: number;
  /** Conflict-free batches with demand before the first growth. Default 20. */
  growAfter?: number;
  /** Longest wait between growths, in batches. Default 5000. */
  maxGrowAfter?: number;
}

export function createTransactionCap(options: TransactionCapOptions = {}): TransactionCap {
  const max = Math.max(1, options.max ?? 10);
  const maxGrowAfter = options.maxGrowAfter ?? 5000;
  let growAfter = options.growAfter ?? 20;
  let current = 1;
  let streak = 0;
  return {
    get current() {
      return current;
    },
    committed(demand) {
      if (!demand || current >= max) return;
      if (++streak < growAfter) return;
      current++;
      streak = 0;
    },
    conflicted() {
      current = Math.max(1, Math.floor(current / 2));
      growAfter = Math.min(maxGrowAfter, growAfter * 2);
      streak = 0;
    },
  };
}
