import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { sql } from "kysely";
import { ensureStream } from "../../src/messaging/stream.js";
import { createStreamPublisher } from "../../src/messaging/stream-publisher.js";
import type { OutboxEvent } from "../../src/outbox/outbox-event.js";
import { createEventPublisher } from "../../src/outbox/publisher.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { readStream } from "../kit/stream.js";
import { waitFor } from "../kit/wait.js";

/**
 * What the in-flight limit counts: requests until their reply. Publishing the
 * events afterwards is bounded by the publisher, which leaves the excess to the
 * outbox relay, so a slow JetStream never turns confirmed work into refusals.
 */
let h: Harness;
before(async () => {
  h = await createHarness();
});
after(() => h?.close());

const unpublished = async (): Promise<number> =>
  Number((await sql<{ n: string }>`SELECT count(*) AS n FROM herald_outbox WHERE published_at IS NULL`.execute(h.database.db)).rows[0]!.n);

test("a client that waits for each answer is never refused, even at an in-flight limit of 1", async () => {
  const worker = await h.startWorker({ maxInFlight: 1 });
  assert.equal((await h.send("open_account", { accountId: "seq", owner: "Seq" })).body.status, "committed");
  const outcomes: string[] = [];
  for (let i = 0; i < 60; i++) {
    const reply = await h.send("deposit", { accountId: "seq", amount: 1 });
    outcomes.push(reply.body.status === "committed" ? "committed" : `${reply.body.status}:${reply.body.error?.code}`);
  }
  assert.deepEqual(outcomes, Array(60).fill("committed"));
  assert.equal(worker.stats.errors.overloaded ?? 0, 0, "the worker refused nothing");
  await waitFor(async () => (await unpublished()) === 0 || undefined, { what: "every event published" });
  await worker.stop();
  h.workers.splice(0);
});

test("while JetStream does not acknowledge, commands keep committing at a limit of 1, and the relay delivers later", async () => {
  const worker = await h.startWorker({ maxInFlight: 1, publishTimeoutMs: 3000, outbox: { intervalMs: 50, graceMs: 100 } });
  await waitFor(async () => (await unpublished()) === 0 || undefined, { what: "earlier events published" });
  const jsm = await jetstreamManager(h.nc);
  await jsm.streams.delete(worker.stream);
  // With no stream a publish would fail at once; a silent subscriber makes every PubAck wait for its timeout.
  const silent = h.nc.subscribe(`${h.domain}.evt.>`);
  await h.nc.flush();
  try {
    const statuses: string[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await h.send("deposit", { accountId: "seq", amount: 10 }, { timeoutMs: 2000 })).body.status);
    assert.deepEqual(statuses, Array(5).fill("committed"), "each answered before the first publish timed out");
    assert.equal(worker.stats.errors.overloaded ?? 0, 0);
    assert.equal(await unpublished(), 5, "their events wait in the outbox");
  } finally {
    silent.unsubscribe();
  }
  await worker.publisher.idle();
  await ensureStream(jsm, { name: worker.stream, subjects: [`${h.domain}.evt.>`] });
  await waitFor(async () => (await unpublished()) === 0 || undefined, { what: "relay caught up" });
  const deposited = await readStream(h.nc, worker.stream);
  assert.equal(deposited.filter((m) => m.subject.endsWith(".deposited")).length, 5, "each deposit's event is in the new stream once");
  await worker.stop();
  h.workers.splice(0);
});

test("past its bound the publisher starts no new publish: the events are left to the relay, and it takes new ones once there is room", async () => {
  // Outside the domain's stream: only the silent subscriber hears it, so no PubAck ever comes.
  const subject = `${h.domain}.probe.bound`;
  const silent = h.nc.subscribe(subject);
  await h.nc.flush();
  const publisher = createEventPublisher({ stream: createStreamPublisher(h.nc), db: h.database.db, ackTimeoutMs: 1500, maxInFlight: 2 });
  const event = (): OutboxEvent => ({
    id: randomUUID(),
    commandId: randomUUID(),
    domain: h.domain,
    subject,
    type: "bound_probe",
    position: 0,
    data: {},
    headers: {},
  });
  try {
    const first = publisher.publish([event()]);
    const second = publisher.publish([event(), event()]);
    assert.deepEqual(await publisher.publish([event(), event(), event()]), { published: 0, duplicates: 0, failed: 0, deferred: 3 });
    // Relay passes are not bounded: they are how deferred events get out.
    const relayed = publisher.publish([event()], { relayed: true });
    assert.deepEqual(await first, { published: 0, duplicates: 0, failed: 1, deferred: 0 });
    assert.deepEqual(await second, { published: 0, duplicates: 0, failed: 2, deferred: 0 });
    assert.equal((await relayed).failed, 1);
    const again = await publisher.publish([event()]);
    assert.equal(again.deferred, 0, "room again once the running publishes ended");
    assert.equal(again.failed, 1);
  } finally {
    silent.unsubscribe();
  }
});
