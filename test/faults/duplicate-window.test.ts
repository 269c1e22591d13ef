import assert from "node:assert/strict";
import { after, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { sql } from "kysely";
import { consume } from "../../src/consumer/index.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { connectDatabase, type Database } from "../../src/db/connection.js";
import { duplicateWindowOf, ensureStream } from "../../src/messaging/stream.js";
import { createStreamPublisher, type StreamPublisher } from "../../src/messaging/stream-publisher.js";
import { createEventPublisher } from "../../src/outbox/publisher.js";
import { startOutboxRelay } from "../../src/outbox/relay.js";
import { durableSettled } from "../kit/durable.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { readStream } from "../kit/stream.js";
import { startTcpProxy, type TcpProxy } from "../kit/tcp-proxy.js";
import { waitFor } from "../kit/wait.js";

/**
 * README "Promises": every committed event reaches the stream once per event id
 * when it is republished inside the stream's duplicate window
 * (HERALD_STREAM_DUPLICATE_WINDOW_MS); past it a second copy may be stored, and
 * a consumer's inbox applies it once. The fault: a relay publishes a backlog,
 * JetStream stores it, and the database goes away before the "published" marks
 * are written, for longer than the window (shrunk to 1.5 s here instead of 15 min).
 */

const WINDOW_MS = 1500;
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

interface Backlog {
  h: Harness;
  stream: string;
  eventIds: string[];
  proxy: TcpProxy;
  /** The relay's own pool, through the proxy: the connection the outage takes away. */
  viaProxy: Database<any>;
}

/** Three committed events left unpublished (as a crash before publishing leaves them), and a stream with `windowMs`. */
async function backlog(windowMs: number): Promise<Backlog> {
  const h = await createHarness();
  cleanups.push(() => h.close());
  const worker = await h.startWorker({ prune: false });
  for (const id of ["w1", "w2", "w3"]) assert.equal((await h.send("open_account", { accountId: id, owner: id, initialBalance: 1 })).body.status, "committed");
  await waitFor(async () => (await h.database.db.selectFrom("herald_outbox").select("id").where("published_at", "is", null).execute()).length === 0 || undefined);
  await worker.stop();
  const jsm = await jetstreamManager(h.nc);
  await jsm.streams.delete(worker.stream);
  const info = await ensureStream(jsm, { name: worker.stream, subjects: [`${h.domain}.evt.>`], duplicateWindowMs: windowMs });
  assert.equal(duplicateWindowOf(info), windowMs);
  await sql`UPDATE herald_outbox SET published_at = NULL, stream_seq = NULL, lease_until = NULL`.execute(h.database.db);
  const eventIds = (await h.database.db.selectFrom("herald_outbox").select("id").orderBy("created_at").execute()).map((r: { id: string }) => r.id);
  const u = new URL(h.database.url);
  const proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
  cleanups.push(() => proxy.close());
  u.port = String(proxy.port);
  const viaProxy = await connectDatabase({ url: u.toString(), poolMax: 2, timeouts: { statementTimeoutMs: 300 } });
  cleanups.push(() => viaProxy.destroy());
  return { h, stream: worker.stream, eventIds, proxy, viaProxy };
}

/** A real publisher whose database goes away the moment JetStream acked its first message. */
function cutDatabaseAfterFirstAck(inner: StreamPublisher, proxy: TcpProxy, cut: { at?: number }): StreamPublisher {
  return {
    async publish(subject, data, options) {
      const ack = await inner.publish(subject, data, options);
      if (cut.at === undefined) {
        cut.at = Date.now();
        proxy.stall();
        proxy.cutAll();
      }
      return ack;
    },
  };
}

/** Relay A publishes the backlog; its marks fail; the outage lasts `outageMs` from the first ack. */
async function publishThenLoseTheDatabase(b: Backlog, outageMs: number) {
  const streamPublisher = createStreamPublisher(b.h.nc);
  cleanups.push(async () => streamPublisher.close());
  const cut: { at?: number } = {};
  const publisher = createEventPublisher({ stream: cutDatabaseAfterFirstAck(streamPublisher, b.proxy, cut), db: b.viaProxy.db, markRetryMs: 200 });
  // A short lease, so that when this worker "dies" another relay may take its events soon after the outage.
  const relay = startOutboxRelay({ db: b.viaProxy.db, publisher, domain: b.h.domain, intervalMs: 3_600_000, graceMs: 0, leaseMs: 300 });
  cleanups.push(() => relay.stop());
  assert.equal(await relay.runOnce(), 3, "the backlog reached JetStream");
  assert.equal(publisher.heldMarks(), 3, "the marks could not be written: held");
  assert.equal((await readStream(b.h.nc, b.stream)).length, 3);
  // The outage: wait (polling the clock, nothing else can tell) until it has lasted outageMs.
  await waitFor(() => Date.now() - cut.at! > outageMs || undefined, { timeoutMs: outageMs + 5000, intervalMs: 50, what: "the outage's end" });
  return { publisher, relay };
}

const unpublished = async (h: Harness) => (await h.database.db.selectFrom("herald_outbox").select("id").where("published_at", "is", null).execute()).length;

test("an outage longer than the window: the worker that got the PubAcks writes its marks and publishes nothing twice", async () => {
  const b = await backlog(WINDOW_MS);
  const { publisher, relay } = await publishThenLoseTheDatabase(b, WINDOW_MS + 500);
  b.proxy.resume();
  // Its next relay pass and its mark retries meet the same events: none goes out again.
  await relay.runOnce();
  // The rows are marked when the UPDATE commits; the held count drops when its answer comes back: wait for both.
  await waitFor(async () => ((await unpublished(b.h)) === 0 && publisher.heldMarks() === 0) || undefined, { what: "marks written after the outage" });
  const messages = await readStream(b.h.nc, b.stream);
  assert.deepEqual(messages.map((m) => m.headers["ce-id"]).sort(), [...b.eventIds].sort(), "each event once in the stream, past the window");
  const rows = await b.h.database.db.selectFrom("herald_outbox").select(["id", "stream_seq"]).execute();
  for (const r of rows as Array<{ id: string; stream_seq: number }>) assert.equal(messages.find((m) => m.headers["ce-id"] === r.id)!.seq, Number(r.stream_seq));
});

/** The publishing worker is gone with its PubAcks; another worker's relay publishes the backlog again. */
async function republishedByAnotherWorker(b: Backlog, outageMs: number) {
  const { publisher, relay } = await publishThenLoseTheDatabase(b, outageMs);
  // Its process died: what it held is lost, and its connections never come back
  // (the proxy stays stalled, so not even a mark it had in flight can land).
  publisher.close();
  await relay.stop();
  const streamPublisher = createStreamPublisher(b.h.nc);
  cleanups.push(async () => streamPublisher.close());
  const other = createEventPublisher({ stream: streamPublisher, db: b.h.database.db });
  const relayB = startOutboxRelay({ db: b.h.database.db, publisher: other, domain: b.h.domain, intervalMs: 3_600_000, graceMs: 0 });
  cleanups.push(() => relayB.stop());
  assert.equal(await relayB.runOnce(), 3);
  assert.equal(await unpublished(b.h), 0);
  return readStream(b.h.nc, b.stream);
}

test("inside the window, JetStream drops the other worker's copies", async () => {
  const b = await backlog(60_000);
  const messages = await republishedByAnotherWorker(b, 500);
  assert.deepEqual(messages.map((m) => m.headers["ce-id"]).sort(), [...b.eventIds].sort(), "each event once");
});

test("past the window, the other worker's copies are stored too, and a consumer's inbox applies each event once", async () => {
  const b = await backlog(WINDOW_MS);
  const messages = await republishedByAnotherWorker(b, WINDOW_MS + 500);
  const ids = messages.map((m) => m.headers["ce-id"]);
  assert.equal(ids.length, 6, "past the window each event is stored a second time");
  assert.deepEqual([...new Set(ids)].sort(), [...b.eventIds].sort());

  const applied = new Map<string, number>();
  const durable = "dupes";
  const consumer = await consume({
    nc: b.h.nc,
    db: b.h.database.db,
    domain: b.h.domain,
    durable,
    stream: b.stream,
    prune: false,
    handle: (event) => void applied.set(event.id, (applied.get(event.id) ?? 0) + 1),
  });
  await waitFor(async () => (await durableSettled(b.h.nc, b.stream, durable)) || undefined, { what: "every copy seen" });
  await consumer.stop();
  assert.deepEqual([...applied.values()], [1, 1, 1], "each event applied once");
  assert.deepEqual({ processed: consumer.stats.processed, duplicates: consumer.stats.duplicates }, { processed: 3, duplicates: 3 });
});

test("a worker creates its stream with the setting's window; an existing shorter one is kept and logged", async () => {
  const h = await createHarness();
  cleanups.push(() => h.close());
  const created = await h.startWorker({ prune: false, duplicateWindowMs: 900_000 });
  assert.equal(created.duplicateWindowMs, 900_000);
  await created.stop();

  const jsm = await jetstreamManager(h.nc);
  await jsm.streams.delete(created.stream);
  await ensureStream(jsm, { name: created.stream, subjects: [`${h.domain}.evt.>`], duplicateWindowMs: 120_000 });
  const lines: string[] = [];
  const logger = createLogger({ destination: { write: (s: string) => void lines.push(s) } });
  const existing = await h.startWorker({ prune: false, logger });
  assert.equal(existing.duplicateWindowMs, 120_000, "the operator's stream is left as configured");
  assert.equal(duplicateWindowOf(await jsm.streams.info(created.stream)), 120_000);
  const warning = lines.map((l) => JSON.parse(l)).find((l) => /duplicate window is shorter/.test(l.msg));
  assert.ok(warning, "the shorter window is logged at start");
  assert.deepEqual([warning.stream, warning.duplicateWindowMs, warning.wantedMs], [created.stream, 120_000, 900_000]);
});
