import assert from "node:assert/strict";
import { after, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { sql } from "kysely";
import { connectNats } from "../../src/messaging/connection.js";
import { ensureStream } from "../../src/messaging/stream.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { uniqueKey } from "../kit/names.js";
import { startNatsServer } from "../kit/nats-server.js";
import { readStream } from "../kit/stream.js";
import { waitFor } from "../kit/wait.js";

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function unpublished(h: Harness): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM herald_outbox WHERE published_at IS NULL`.execute(h.database.db);
  return Number(rows[0]!.n);
}

/** Every outbox row is in the stream exactly once, and nothing else is. */
async function assertStreamMatchesOutbox(h: Harness, stream: string): Promise<number> {
  const rows = await h.database.db.selectFrom("herald_outbox").select(["id", "stream_seq"]).execute();
  const messages = await readStream(h.nc, stream);
  const ids = messages.map((m) => m.headers["ce-id"]);
  assert.equal(new Set(ids).size, ids.length, "no event is in the stream twice");
  assert.deepEqual([...ids].sort(), rows.map((r: { id: string }) => r.id).sort(), "the stream holds exactly the committed events");
  for (const r of rows as Array<{ id: string; stream_seq: number }>) {
    assert.equal(messages.find((m) => m.headers["ce-id"] === r.id)!.seq, r.stream_seq, "stored stream sequence matches");
  }
  return rows.length;
}

test("events that could not be published (stream gone) are delivered by the relay once it is back", async () => {
  const h = await createHarness();
  cleanups.push(() => h.close());
  const worker = await h.startWorker({ publishTimeoutMs: 1000, outbox: { intervalMs: 50, graceMs: 100 } });
  await h.send("open_account", { accountId: "r1", owner: "R", initialBalance: 50 });
  await waitFor(async () => (await unpublished(h)) === 0 || undefined, { what: "first event published" });

  const jsm = await jetstreamManager(h.nc);
  await jsm.streams.delete(worker.stream);
  const replies = [];
  for (let i = 0; i < 10; i++) replies.push(await h.send("deposit", { accountId: "r1", amount: 1 }));
  assert.ok(replies.every((r) => r.body.status === "committed"), "commands commit while events cannot be published");
  // The relay keeps failing while the stream is missing; the events wait in the outbox.
  await worker.publisher.idle();
  assert.equal(await unpublished(h), 10);

  await ensureStream(jsm, { name: worker.stream, subjects: [`${h.domain}.evt.>`] });
  await waitFor(async () => (await unpublished(h)) === 0 || undefined, { what: "relay caught up" });
  // The first event went into the deleted stream; the new stream holds the ten deposits.
  const rows = await h.database.db.selectFrom("herald_outbox").select(["id"]).where("type", "=", "deposited").execute();
  const messages = await readStream(h.nc, worker.stream);
  assert.deepEqual(messages.map((m) => m.headers["ce-id"]).sort(), rows.map((r: { id: string }) => r.id).sort());
  const failures = await h.database.db.selectFrom("herald_outbox").select("publish_attempts").where("type", "=", "deposited").execute();
  assert.ok(failures.every((r: { publish_attempts: number }) => r.publish_attempts >= 1), "failed publishes are counted");
});

test("after a NATS outage the relay publishes every missing event, none twice", async () => {
  const server = await startNatsServer();
  cleanups.push(() => server.dispose());
  const nc = await connectNats({ servers: server.url, name: "relay-test" });
  cleanups.push(() => nc.close());
  const h = await createHarness({ nc });
  cleanups.push(() => h.close());
  const worker = await h.startWorker({ publishTimeoutMs: 300, outbox: { intervalMs: 50, graceMs: 100 } });
  for (const id of ["n1", "n2"]) await h.send("open_account", { accountId: id, owner: id, initialBalance: 100 });
  await waitFor(async () => (await unpublished(h)) === 0 || undefined, { what: "initial events published" });

  await server.stop();
  // Commands arriving through another path while NATS is down still commit; their publish fails.
  const results = [];
  for (let i = 0; i < 20; i++) {
    const body = new TextEncoder().encode(JSON.stringify({ from: i % 2 ? "n1" : "n2", to: i % 2 ? "n2" : "n1", amount: 1 }));
    const result = await worker.dispatcher.dispatch({ command: "transfer", body, idempotencyKey: uniqueKey() });
    assert.equal(result.reply.status, "committed");
    results.push(result);
  }
  const reports = await Promise.all(results.map((r) => worker.publisher.publish(r.events)));
  assert.ok(reports.every((r) => r.failed === 1 && r.published === 0), "publishing fails while NATS is down");
  assert.equal(await unpublished(h), 20);

  await server.start();
  await waitFor(async () => (await unpublished(h)) === 0 || undefined, { what: "relay caught up after the outage", timeoutMs: 30_000 });
  assert.equal(await assertStreamMatchesOutbox(h, worker.stream), 22);

  // A publisher that crashed after the PubAck but before recording it: the relay sends again,
  // JetStream drops the copies by Nats-Msg-Id, and the stream still holds each event once.
  await sql`UPDATE herald_outbox SET published_at = NULL, stream_seq = NULL WHERE type = 'transferred'`.execute(h.database.db);
  const republished = await worker.relay.runOnce({ graceMs: 0 });
  assert.equal(republished, 20);
  assert.equal(await unpublished(h), 0);
  assert.equal(await assertStreamMatchesOutbox(h, worker.stream), 22);
});
