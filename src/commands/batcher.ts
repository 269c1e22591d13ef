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
 * Group commit without a timer. An item that finds nothing running starts at
 * once, alone, so batching adds no latency when there is no load. Items that
 * arrive while a transaction runs wait for it and go together in the next one.
 * Another transaction starts beside the running ones only when a full batch is
 * waiting: one transaction of many commands costs the database far less than
 * many transactions side by side (one BEGIN, claim, outcome write and COMMIT
 * for all, and no conflicts between them), and a slower database fills batches
 * sooner, which opens more of them.
 */
export function createBatcher<T>(options: BatcherOptions<T>): Batcher<T> {
  const queue: T[] = [];
  let running = 0;

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
    while (queue.length > 0 && running < options.maxRunning() && (running === 0 || queue.length >= options.maxBatch)) {
      const batch = take();
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
