import type { AdaptiveLimit } from "./adaptive-limit.js";

export interface BatcherOptions<T> {
  /** Largest batch. */
  maxBatch: number;
  /** Shared with single transactions, so batches and singles never exceed the pool. */
  limit: AdaptiveLimit;
  /** Items that may not share a batch (e.g. one idempotency key) map to the same string. */
  keyOf(item: T): string;
  /** Runs a batch of two or more while holding a slot; returns the items to run alone afterwards. */
  runBatch(items: T[]): Promise<T[]>;
  /** Runs one item on its own (it takes its own slot). */
  runAlone(item: T): void;
}

/**
 * Group commit without a timer: items queue while every transaction slot is
 * busy, and whoever gets the next slot takes all that queued (up to maxBatch).
 * With no load an item finds a free slot and runs alone at once, so batching
 * adds no latency; under load batches grow by themselves.
 */
export function createBatcher<T>(options: BatcherOptions<T>): { submit(item: T): void; queued(): number } {
  const queue: T[] = [];
  let waiting = false;

  function take(): T[] {
    const batch: T[] = [];
    const keys = new Set<string>();
    for (let i = 0; i < queue.length && batch.length < options.maxBatch; ) {
      const key = options.keyOf(queue[i]!);
      if (keys.has(key)) {
        i++;
        continue;
      }
      keys.add(key);
      batch.push(queue.splice(i, 1)[0]!);
    }
    return batch;
  }

  function pump(): void {
    if (waiting || queue.length === 0) return;
    waiting = true;
    void options.limit
      .run(async () => {
        waiting = false;
        const batch = take();
        pump();
        // A lone item runs on the single path, which takes its own slot.
        if (batch.length < 2) return batch;
        return options.runBatch(batch);
      })
      .then((alone) => alone.forEach(options.runAlone));
  }

  return {
    submit(item) {
      queue.push(item);
      pump();
    },
    queued: () => queue.length,
  };
}
