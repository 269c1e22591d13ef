/**
 * How many group-commit transactions may run side by side, steered by the
 * share of batches that conflict rather than by each conflict alone. It starts
 * at the maximum: on a database a network hop away (CockroachDB, or any with
 * millisecond round trips) one transaction at a time is the bottleneck, and
 * batches with disjoint rows do not conflict there. Every `current` finished
 * batches (a round) it looks at the conflict rate (a moving average): above
 * `high` it shrinks by `decrease`, below `low` for `penalty` rounds in a row it
 * grows by one, in between it holds. Some conflicts are the price of
 * parallelism (batches that happen to share a row); a cap halved on each would
 * collapse to one under any load.
 *
 * The penalty stops a database where batches side by side nearly always abort
 * each other (PostgreSQL with its default page- and relation-level predicate
 * locks) from trying again and again: a growth that is undone at once doubles
 * it (up to `maxPenalty`), a growth that holds halves it.
 *
 * What counts as a conflict is the caller's business (see group-commit.ts):
 * serialization failures (40001, both databases; CockroachDB reports its
 * transaction pushes and deadlocks this way), PostgreSQL's deadlock detector
 * (40P01) and lock waits cut short by lock_timeout (55P03, both). Nothing
 * PostgreSQL-only (predicate-lock or deadlock_timeout signals) is needed, and
 * broken connections do not count: they say nothing about contention.
 */
export interface TransactionCap {
  readonly current: number;
  /** A batch committed. */
  committed(): void;
  /** A batch conflicted (serialization failure, deadlock, lock timeout). */
  conflicted(): void;
}

export interface TransactionCapOptions {
  /** Upper bound, and where the cap starts. Default 10. */
  max?: number;
  /** Conflict rate above which the cap shrinks. Default 0.25. */
  high?: number;
  /** Conflict rate below which the cap may grow. Default 0.1. */
  low?: number;
  /** Factor applied when it shrinks. Default 0.7. */
  decrease?: number;
  /** Weight of the newest batch in the moving average. Default 0.1. */
  weight?: number;
  /** Most calm rounds a growth can wait for. Default 32. */
  maxPenalty?: number;
}

export function createTransactionCap(options: TransactionCapOptions = {}): TransactionCap {
  const max = Math.max(1, options.max ?? 10);
  const high = options.high ?? 0.25;
  const low = options.low ?? 0.1;
  const decrease = options.decrease ?? 0.7;
  const weight = options.weight ?? 0.1;
  const maxPenalty = Math.max(1, options.maxPenalty ?? 32);
  let current = max;
  let rate = 0;
  let seen = 0;
  let calm = 0;
  let penalty = 1;
  let lastChange: "grew" | "shrank" | undefined;

  function record(conflict: 0 | 1): void {
    rate += weight * (conflict - rate);
    if (++seen < current) return;
    seen = 0;
    if (rate > high) {
      if (lastChange === "grew") penalty = Math.min(maxPenalty, penalty * 2);
      current = Math.max(1, Math.floor(current * decrease));
      lastChange = "shrank";
      calm = 0;
    } else if (rate < low) {
      if (++calm < penalty || current >= max) return;
      if (lastChange === "grew") penalty = Math.max(1, penalty / 2);
      current++;
      lastChange = "grew";
      calm = 0;
    } else {
      calm = 0;
    }
  }

  return {
    get current() {
      return current;
    },
    committed: () => record(0),
    conflicted: () => record(1),
  };
}
