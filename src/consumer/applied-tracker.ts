import type { Kysely } from "kysely";
import type { EventRef } from "../protocol/replies.js";
import { anyFilterMatches } from "./subject-filter.js";

/** Knows which events a durable has applied, and lets callers wait for some. */
export interface AppliedTracker {
  /** Told by this instance after an event is applied, found applied, or dead-lettered. */
  settled(eventId: string): void;
  /**
   * Waits until every event the durable takes (its filters) is applied or
   * dead-lettered, at most `timeoutMs`. Resolves with the ids still pending
   * (empty when all are applied). Events outside the filters are never waited for.
   */
  wait(events: readonly EventRef[], timeoutMs: number): Promise<string[]>;
  /** Resolves every wait now with what is pending (the instance is stopping). */
  close(): void;
}

export interface AppliedTrackerOptions {
  db: Kysely<any>;
  durable: string;
  filters: readonly string[];
  /** Re-check of the database while waiting, for events another instance applies. Default 200 ms. */
  pollMs?: number;
}

interface Waiter {
  pending: Set<string>;
  done(): void;
}

export function createAppliedTracker(options: AppliedTrackerOptions): AppliedTracker {
  const { db, durable, filters } = options;
  const pollMs = options.pollMs ?? 200;
  const waiters = new Set<Waiter>();
  let closed = false;

  /** Ids among `ids` that are neither in the inbox nor dead-lettered. */
  async function missing(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const [inbox, dead] = await Promise.all([
      db.selectFrom("herald_inbox").select("event_id").where("consumer", "=", durable).where("event_id", "in", ids).execute(),
      db.selectFrom("herald_dead_letters").select("event_id").where("consumer", "=", durable).where("event_id", "in", ids).execute(),
    ]);
    const seen = new Set([...inbox, ...dead].map((r) => String(r.event_id).toLowerCase()));
    return ids.filter((id) => !seen.has(id));
  }

  async function wait(events: readonly EventRef[], timeoutMs: number): Promise<string[]> {
    const ids = [...new Set(events.filter((e) => anyFilterMatches(filters, e.subject)).map((e) => e.id.toLowerCase()))];
    if (ids.length === 0) return [];
    // Listening before the first look: an event applied in between is not missed.
    const waiter: Waiter = { pending: new Set(ids), done: () => undefined };
    const finished = new Promise<void>((resolve) => (waiter.done = resolve));
    waiters.add(waiter);
    let initial: string[];
    try {
      initial = await missing(ids);
    } catch (err) {
      waiters.delete(waiter);
      throw err;
    }
    waiter.pending = new Set(initial.filter((id) => waiter.pending.has(id)));
    if (waiter.pending.size === 0 || closed) {
      waiters.delete(waiter);
      return [...waiter.pending];
    }
    // Another instance of the durable may apply them: look again now and then.
    const poll = setInterval(() => {
      missing([...waiter.pending])
        .then((left) => {
          waiter.pending = new Set(left.filter((id) => waiter.pending.has(id)));
          if (waiter.pending.size === 0) waiter.done();
        })
        .catch(() => undefined);
    }, pollMs);
    const timer = setTimeout(() => waiter.done(), timeoutMs);
    try {
      await finished;
    } finally {
      clearInterval(poll);
      clearTimeout(timer);
      waiters.delete(waiter);
    }
    return waiter.pending.size === 0 ? [] : missing([...waiter.pending]).catch(() => [...waiter.pending]);
  }

  return {
    settled(eventId) {
      for (const waiter of waiters) {
        if (waiter.pending.delete(eventId) && waiter.pending.size === 0) waiter.done();
      }
    },
    wait,
    close() {
      closed = true;
      for (const waiter of waiters) waiter.done();
    },
  };
}
