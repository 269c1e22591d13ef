/** Publishing the glue's events: inline after each reply, and a relay for what a failure left. */
import type { JetStreamClient } from "@nats-io/jetstream";
import type pg from "pg";
import type { GlueEvent } from "./transfer.js";

const encoder = new TextEncoder();

/** Publishes one event (awaiting its PubAck) and marks its outbox row; false when it failed. */
export async function publishEvent(js: JetStreamClient, pool: pg.Pool, event: GlueEvent): Promise<boolean> {
  try {
    // msgID lets JetStream drop a second copy if the relay publishes it again.
    await js.publish(event.subject, encoder.encode(JSON.stringify(event.data)), { msgID: event.id, timeout: 5000 });
    await pool.query("UPDATE glue_outbox SET published_at = now() WHERE id = $1", [event.id]);
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
export function startRelay(js: JetStreamClient, pool: pg.Pool, options: { intervalMs: number; graceMs: number }): Relay {
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
    for (const row of rows) if (!(await publishEvent(js, pool, row))) return;
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
