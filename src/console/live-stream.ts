import type { SSEStreamingApi } from "hono/streaming";
import { listCommands } from "../operations/command-list.js";
import { readEvents } from "../operations/events.js";
import { streamStatus } from "../operations/stream-status.js";
import type { ConsoleDeps } from "./deps.js";

/** How often the live view asks the database for new commands. */
const POLL_MS = 1000;
/** A command shows up once its transaction committed; look back this far for late commits. */
const LOOK_BACK_MS = 15_000;

/**
 * Pushes the domain's commands (polled from the database, newest committed
 * first seen) and events (an ordered consumer from the stream's next
 * sequence) as server-sent events `command` and `event`, until the browser
 * goes away.
 */
export async function streamLive(sse: SSEStreamingApi, deps: ConsoleDeps, domain: string): Promise<void> {
  const stop = new Promise<void>((resolve) => sse.onAbort(resolve));
  let closed = false;
  void stop.then(() => (closed = true));
  let chain = Promise.resolve();
  const send = (event: string, data: unknown) => {
    chain = chain.then(() => (closed ? undefined : sse.writeSSE({ event, data: JSON.stringify(data) }))).catch(() => undefined);
  };

  const stream = deps.streamOf(domain);
  const status = await streamStatus(deps.nc, stream);
  const events = status.exists
    ? readEvents({
        nc: deps.nc,
        stream,
        follow: true,
        startSeq: status.lastSeq + 1,
        until: stop,
        onEvent: (e) => send("event", { seq: e.seq, subject: e.subject, id: e.id, commandId: e.commandId, time: e.time }),
      }).catch((err: unknown) => deps.logger.warn({ err: (err as Error).message }, "live events stopped"))
    : Promise.resolve();

  const started = new Date();
  /** Commands already sent, by id, with their receive time: forgotten once older than the look-back. */
  const seen = new Map<string, number>();
  await sse.writeSSE({ event: "ready", data: JSON.stringify({ domain, stream, fromSeq: status.lastSeq + 1 }) });
  while (!closed) {
    const now = new Date();
    const since = new Date(Math.max(started.getTime(), now.getTime() - LOOK_BACK_MS));
    try {
      const page = await listCommands(deps.db, { domain, since, until: new Date(now.getTime() + 1000), limit: 100 });
      for (const r of page.rows.reverse()) {
        if (seen.has(r.id)) continue;
        seen.set(r.id, r.receivedAt.getTime());
        send("command", { id: r.id, command: r.command, idempotencyKey: r.idempotencyKey, status: r.status, receivedAt: r.receivedAt.toISOString() });
      }
      // Ids older than the look-back window cannot come again.
      for (const [id, at] of seen) if (at < since.getTime()) seen.delete(id);
    } catch (err) {
      deps.logger.warn({ err: (err as Error).message }, "live commands poll failed");
    }
    await Promise.race([stop, new Promise((r) => setTimeout(r, POLL_MS))]);
  }
  await events;
  await chain;
}
