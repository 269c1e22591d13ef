export interface BatcherOptions<T> {
  /** Largest batch. */
  maxBatch: number;
  /** Most transactions the batcher keeps running at once; asked before each start (it may adapt). */
  maxRunning(): number;
  /** Items that may not share a batch (e.g. one idempotency key) map to the same string. */
  keyOf(item: T): string;
  /** Runs what was taken, one item or several; resolves once every item is answered. */
  run(items: T[]): Promise<void>;
}

export interface Batcher<T> {
  submit(item: T): void;
  /** Puts items back at the head of the queue (a batch that must be tried again). */
  requeue(items: readonly T[]): void;
  /** Items waiting for a transaction. */
  queued(): number;
  /** Transactions (batches or lone items) running now. */
  running(): number;
}

/**
 * Group commit without a timer. An item that finds a free transaction slot
 * starts at once, so batching adds no latency when there is no load. Items
 * that arrive while every slot is busy wait, and go together: a slot that
 * frees takes its share of the queue (the queue split evenly over all the
 * slots the cap allows, at most maxBatch), so the work spreads over the slots
 * instead of piling into one long batch while the others idle. One
 * transaction of many commands costs the database less than many (one BEGIN,
 * claim, outcome write and COMMIT for all), but a transaction's handlers run
 * one after the other: on a database a network hop away, a single transaction
 * at a time is bound by its round trips, and only transactions side by side
 * use the time. The cap (see transaction-cap.ts) lowers the slots when they
 * conflict.
 */
export function createBatcher<T>(options: BatcherOptions<T>): Batcher<T> {
  const queue: T[] = [];
  let running = 0;

  function take(size: number): T[] {
    const batch: T[] = [];
    const keys = new Set<string>();
    for (let i = 0; i < queue.length && batch.length < size; ) {
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
    for (let slots = options.maxRunning(); queue.length > 0 && running < slots; slots = options.maxRunning()) {
      const batch = take(Math.min(options.maxBatch, Math.ceil(queue.length / slots)));
      running++;
      void options
        .run(batch)
        .catch(() => undefined)
        .finally(() => {
          running--;
          pump();
        });
    }
  }

  return {
    submit(item) {
      queue.push(item);
      pump();
    },
    requeue(items) {
      queue.unshift(...items);
      pump();
    },
    queued: () => queue.length,
    running: () => running,
  };
}
