export interface BatcherOptions<T> {
  /** Largest batch. */
  maxBatch: number;
  /**
   * Largest sum of `sizeOf` over a batch (an item larger than this goes
   * alone). Default: no byte bound.
   */
  maxBatchBytes?: number;
  /** An item's size for `maxBatchBytes`. Default: 0. */
  sizeOf?(item: T): number;
  /** Most transactions the batcher keeps running at once; asked before each start (it may adapt). */
  maxRunning(): number;
  /** Items that may not share a batch (e.g. one idempotency key) map to the same string. */
  keyOf(item: T): string;
  /** Runs what was taken, one item or several; resolves once every item is answered. */
  run(items: T[]): Promise<void>;
  /** Called when items are left waiting because every allowed transaction is running. Default: nothing. */
  onFull?(): void;
}

export interface Batcher<T> {
  submit(item: T): void;
  /** Puts items back at the head of the queue (a batch that must be tried again). */
  requeue(items: readonly T[]): void;
  /** Takes a waiting item out of the queue (its deadline answer went out); false when it was not waiting. */
  remove(item: T): boolean;
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

  const maxBytes = options.maxBatchBytes ?? Number.POSITIVE_INFINITY;
  const sizeOf = options.sizeOf ?? (() => 0);

  function take(size: number): T[] {
    const batch: T[] = [];
    const keys = new Set<string>();
    let bytes = 0;
    for (let i = 0; i < queue.length && batch.length < size; ) {
      const key = options.keyOf(queue[i]!);
      const itemBytes = sizeOf(queue[i]!);
      // The first item always goes, even when it alone is over the byte bound.
      if (keys.has(key) || (batch.length > 0 && bytes + itemBytes > maxBytes)) {
        i++;
        continue;
      }
      keys.add(key);
      bytes += itemBytes;
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
    if (queue.length > 0) options.onFull?.();
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
    remove(item) {
      const at = queue.indexOf(item);
      if (at < 0) return false;
      queue.splice(at, 1);
      return true;
    },
    queued: () => queue.length,
    running: () => running,
  };
}
