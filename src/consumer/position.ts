import type { JetStreamManager } from "@nats-io/jetstream";
import { sql, type Transaction } from "kysely";

/**
 * A durable's applied position: the highest stream sequence at or below which
 * every event it takes is applied or dead-lettered. That is JetStream's ack
 * floor, since the helper acks only after the commit and TERMs only after the
 * dead letter is recorded. The instance reads it now and then (never on the
 * event's own path) and writes it in the next inbox transaction, so the stored
 * value is never ahead of what the database holds.
 */
export interface PositionRecorder {
  /** Writes the last known floor in `tx` when it moved since this instance last wrote it. */
  record(tx: Transaction<any>): Promise<void>;
  /** The transaction that carried `record` committed: the floor it wrote is stored. */
  committed(): void;
  /** Asks the server for the floor again, at most once per interval; never throws. */
  refresh(): void;
}

export interface PositionOptions {
  jsm: JetStreamManager;
  stream: string;
  durable: string;
  /** Least time between two reads of the floor. Default 1000 ms. */
  refreshMs?: number;
}

export function createPositionRecorder(options: PositionOptions): PositionRecorder {
  const refreshMs = options.refreshMs ?? 1000;
  let known = 0;
  let written = 0;
  let writing = 0;
  let lastRefresh = 0;
  let refreshing: Promise<void> | undefined;
  return {
    async record(tx) {
      writing = 0;
      // Started with the message (refresh), so it is usually back by now; a floor read later is as safe.
      await refreshing;
      if (known <= written) return;
      await sql`
        INSERT INTO herald_consumer_positions (consumer, stream, applied_seq, updated_at)
        VALUES (${options.durable}, ${options.stream}, ${known}, now())
        ON CONFLICT (consumer) DO UPDATE SET applied_seq = GREATEST(herald_consumer_positions.applied_seq, excluded.applied_seq), stream = excluded.stream, updated_at = now()`.execute(tx);
      writing = known;
    },
    committed() {
      if (writing > written) written = writing;
    },
    refresh() {
      const now = Date.now();
      if (refreshing || now - lastRefresh < refreshMs) return;
      lastRefresh = now;
      refreshing = options.jsm.consumers
        .info(options.stream, options.durable)
        .then((info) => {
          known = Math.max(known, info.ack_floor.stream_seq);
        })
        .catch(() => undefined)
        .finally(() => {
          refreshing = undefined;
        });
    },
  };
}
