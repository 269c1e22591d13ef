import { DeadlineExpiredError, type CommandDeadline } from "./command-deadline.js";

/**
 * How many transactions a worker runs at once, adapted to contention (AIMD, as
 * TCP does): every serialization conflict cuts the limit, every clean commit
 * nudges it back up. On hot rows this trades a short wait for a slot against
 * transactions that would only abort each other.
 */
export interface AdaptiveLimit {
  /**
   * Runs `fn` once a slot is free. A caller whose deadline passes while it
   * waits leaves the queue at once with a DeadlineExpiredError.
   */
  run<T>(fn: () => Promise<T>, deadline?: Pick<CommandDeadline, "expired" | "onExpire">): Promise<T>;
  /** A transaction conflicted: shrink. */
  conflicted(): void;
  /** A transaction committed at its first attempt: grow slowly. */
  succeeded(): void;
  readonly current: number;
}

export interface AdaptiveLimitOptions {
  /** Upper bound (and starting value), e.g. the pool size. Default 10. */
  max?: number;
  /** Lower bound. Default a third of max (at least 2): below that, waiting costs more than conflicts. */
  min?: number;
  /** Factor applied on a conflict. Default 0.85. */
  decrease?: number;
}

export function createAdaptiveLimit(options: AdaptiveLimitOptions = {}): AdaptiveLimit {
  const max = Math.max(1, options.max ?? 10);
  const min = Math.min(max, Math.max(1, options.min ?? Math.max(2, Math.floor(max / 3))));
  const decrease = options.decrease ?? 0.85;
  let limit = max;
  let active = 0;
  const waiting: Array<() => void> = [];

  /** Queues for a slot; `active` is counted for the caller when it is admitted. */
  const wait = (deadline: Pick<CommandDeadline, "onExpire"> | undefined) =>
    new Promise<void>((resolve, reject) => {
      if (!deadline) return void waiting.push(resolve);
      const stopListening = deadline.onExpire(() => {
        const at = waiting.indexOf(admitted);
        if (at >= 0) waiting.splice(at, 1);
        reject(new DeadlineExpiredError());
      });
      const admitted = () => {
        stopListening();
        resolve();
      };
      waiting.push(admitted);
    });

  const admit = () => {
    while (active < Math.floor(limit) && waiting.length > 0) {
      active++;
      waiting.shift()!();
    }
  };

  return {
    async run(fn, deadline) {
      if (deadline?.expired) throw new DeadlineExpiredError();
      if (active < Math.floor(limit) && waiting.length === 0) active++;
      else await wait(deadline);
      try {
        return await fn();
      } finally {
        active--;
        admit();
      }
    },
    conflicted() {
      limit = Math.max(min, limit * decrease);
    },
    succeeded() {
      limit = Math.min(max, limit + 0.5);
      admit();
    },
    get current() {
      return Math.floor(limit);
    },
  };
}
