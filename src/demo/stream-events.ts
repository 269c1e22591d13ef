import type { JetStreamManager } from "@nats-io/jetstream";
import { CE } from "../protocol/headers.js";

/** One event in the stream: enough to match it to the command that emitted it. */
export interface StreamEvent {
  seq: number;
  ceId: string;
  commandId: string;
}

/** Reads a stream from a sequence on, a little more each poll, leaving no consumer behind. */
export interface EventReader {
  /** Reads the messages stored since the last poll. */
  poll(): Promise<void>;
  readonly events: readonly StreamEvent[];
}

const LANES = 16;

export async function createEventReader(jsm: JetStreamManager, stream: string): Promise<EventReader> {
  // Start after what is there now: the run's events can only come later.
  let next = (await jsm.streams.info(stream)).state.last_seq + 1;
  const events: StreamEvent[] = [];

  async function read(seq: number): Promise<void> {
    let m;
    try {
      m = await jsm.streams.getMessage(stream, { seq });
    } catch (err) {
      // A sequence can be gone (deleted, or purged by the stream's limits).
      if (/no message found|not found/i.test(String((err as Error).message))) return;
      throw err;
    }
    if (!m?.header) return;
    events.push({ seq, ceId: m.header.get(CE.id), commandId: m.header.get(CE.commandId) });
  }

  return {
    events,
    async poll() {
      const last = (await jsm.streams.info(stream)).state.last_seq;
      const seqs: number[] = [];
      for (let seq = next; seq <= last; seq++) seqs.push(seq);
      next = Math.max(next, last + 1);
      let i = 0;
      await Promise.all(Array.from({ length: Math.min(LANES, seqs.length) }, async () => {
        while (i < seqs.length) await read(seqs[i++]!);
      }));
    },
  };
}

/** Polls until every expected event id is in the stream or the time is up; returns the ids still missing. */
export async function waitForEvents(reader: EventReader, expected: ReadonlySet<string>, timeoutMs: number): Promise<Set<string>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await reader.poll();
    const seen = new Set(reader.events.map((e) => e.ceId));
    const missing = new Set([...expected].filter((id) => !seen.has(id)));
    // Late events come from the outbox relay, which looks every second or so.
    if (missing.size === 0 || Date.now() >= deadline) return missing;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
