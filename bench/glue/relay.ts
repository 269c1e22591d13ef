/** Publishing the glue's events: inline after each reply, and a relay for what a failure left. */
import type { JetStreamClient } from "@nats-io/jetstream";
import type pg from "pg";
import type { GlueEvent } from "./transfer.js";

const encoder = new TextEncoder();

/** Marks outbox rows published, many in one statement: what any outbox that keeps up does. */
export interface Marker {
  mark(id: string): Promise<void>;
  /** Writes what is waiting now. */
  flush(): Promise<void>;
}

/** Marks collected for up to 20 ms (or 200 rows) go out as one UPDATE. */
export function createMarker(pool: pg.Pool): Marker {
  let ids: string[] = [];
  let waiting: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = async () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const [batch, settle] = [ids, waiting];
    ids = [];
    waiting = [];
    if (batch.length === 0) return;
    try {
      await pool.query("UPDATE glue_outbox SET published_at = now() WHERE id = ANY($1::UUID[])", [batch]);
      for (const w of settle) w.resolve();
    } catch (err) {
      for (const w of settle) w.reject(err);
    }
  };
  return {
    mark(id) {
      ids.push(id);
      const done = new Promise<void>((resolve, reject) => waiting.push({ resolve, reject }));
      if (ids.length >= 200) void flush();
      else timer ??= setTimeout(() => void flush(), 20);
      return done;
    },
    flush,
  };
}

/** Publishes one event (awaiting its PubAck) and marks its outbox row; false when it failed. */
export async function publishEvent(js: JetStreamClient, marker: Marker, event: GlueEvent): Promise<boolean> {
  try {
    // msgID lets JetStream drop a second copy if the relay publishes it again.
    await js.publish(event.subject, encoder.encode(JSON.stringify(event.data)), { msgID: event.id, timeout: 5000 });
    await marker.mark(event.id);
    return true;
  } catch {
    return false;
  }
}

export interface Relay {
  /** Stops the timer and runs one last pass over everything unpublished. */
  stop(): Promise<void>;
}

/** Every interval, publishes outbox rows left unpublished longer than the grace period. */
export function startRelay(js: JetStreamClient, pool: pg.Pool, marker: Marker, options: { intervalMs: number; graceMs: number }): Relay {
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  let stopped = false;

  async function pass(graceMs: number): Promise<void> {
    const { rows } = await pool.query<{ id: string; subject: string; data: GlueEvent["data"] }>(
      `SELECT id, subject, data FROM glue_outbox
        WHERE published_at IS NULL AND created_at < now() - ($1::INT * INTERVAL '1 millisecond')
        ORDER BY created_at LIMIT 500`,
      [graceMs],
    );
    // Published side by side: their marks then share the marker's statements.
    await Promise.all(rows.map((row) => publishEvent(js, marker, row)));
  }

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      current = pass(options.graceMs).catch(() => undefined).finally(schedule);
    }, options.intervalMs);
    timer.unref();
  };
  schedule();

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current;
      await pass(0).catch(() => undefined);
    },
  };
}
