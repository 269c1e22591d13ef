import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { sql } from "kysely";
import { z } from "zod";
import { consume, defaultDeadLetterStream, type DeadLetter } from "../../src/consumer/index.js";
import { durableSettled } from "../kit/durable.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { readStream, streamCount } from "../kit/stream.js";
import { waitFor } from "../kit/wait.js";

// The consumer promises of docs/operations.md that no other test held: progress
// acks, a failed dead-letter write, and dead letters of a consumer without a database.
let h: Harness;
let stream: string;

before(async () => {
  h = await createHarness();
  stream = (await h.startWorker()).stream;
  assert.equal((await h.send("open_account", { accountId: "slow", owner: "S" })).body.status, "committed");
  assert.equal((await h.send("open_account", { accountId: "poison", owner: "P" })).body.status, "committed");
  await waitFor(async () => (await streamCount(h.nc, stream)) === 2 || undefined, { what: "2 events" });
});
after(() => h.close());

const deliveries = async (durable: string) => (await (await jetstreamManager(h.nc)).consumers.info(stream, durable)).delivered.consumer_seq;
/** A schema the events fail: every event is poison, dead-lettered at once. */
const rejectAll = { account_opened: z.object({ never: z.literal(true) }) };

test("a handler slower than ackWaitMs is kept alive by progress acks: delivered once, never redelivered", async () => {
  const ackWaitMs = 1000;
  const calls: number[] = [];
  for (const db of [undefined, h.database.db]) {
    const durable = db ? "slow_tx" : "slow_plain";
    calls.length = 0;
    const handle = async (event: { deliveryCount: number }) => {
      calls.push(event.deliveryCount);
      // Three ack waits: without progress acks the server hands the event out again meanwhile.
      await new Promise((resolve) => setTimeout(resolve, 3 * ackWaitMs));
    };
    const base = { nc: h.nc, domain: h.domain, durable, ackWaitMs, filter: `${h.domain}.evt.account_opened`, maxAckPending: 1, batch: 1 };
    const consumer = db ? await consume({ ...base, db, handle }) : await consume({ ...base, handle });
    try {
      await waitFor(async () => (await durableSettled(h.nc, stream, durable)) && calls.length === 2 || undefined, { what: `${durable} settled`, timeoutMs: 20_000 });
    } finally {
      await consumer.stop();
    }
    assert.deepEqual(calls, [1, 1], `${durable}: each event delivered once`);
    assert.equal(await deliveries(durable), 2, `${durable}: two deliveries in all, no redelivery`);
    assert.equal(consumer.stats.processed, 2);
  }
});

test("when the dead-letter write fails the event is NAKed and comes back; it is recorded once the database takes it", async () => {
  const durable = "dl_unwritable";
  // The consumer's dead-letter table refuses writes, as a database that is down would.
  await sql`CREATE FUNCTION dl_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'dead letters unwritable'; END $$`.execute(h.database.db);
  await sql`CREATE TRIGGER dl_refuse BEFORE INSERT ON herald_dead_letters FOR EACH ROW EXECUTE FUNCTION dl_refuse()`.execute(h.database.db);
  const consumer = await consume({
    nc: h.nc,
    db: h.database.db,
    domain: h.domain,
    durable,
    schemas: rejectAll,
    backoffMs: [50],
    handle: () => assert.fail("a poison event never reaches the handler"),
  });
  try {
    await waitFor(() => consumer.stats.retried >= 3 || undefined, { what: "three failed dead-letter attempts" });
    const info = await (await jetstreamManager(h.nc)).consumers.info(stream, durable);
    assert.ok(info.num_ack_pending + info.num_pending >= 1, "the events are still held by the durable, not terminated");
    assert.equal(consumer.stats.deadLettered, 0);
    await sql`DROP TRIGGER dl_refuse ON herald_dead_letters`.execute(h.database.db);
    await waitFor(async () => (await durableSettled(h.nc, stream, durable)) && consumer.stats.deadLettered === 2 || undefined, { what: "both dead-lettered" });
  } finally {
    await consumer.stop();
  }
  const rows = await h.database.db.selectFrom("herald_dead_letters").select(["stream_seq", "deliveries"]).where("consumer", "=", durable).orderBy("stream_seq").execute();
  assert.equal(rows.length, 2, "each event recorded once");
  assert.ok(rows.some((r) => r.deliveries > 1), "recorded on a later delivery than the first");
});

test("a consumer without a database, nobody listening on the DLQ subject: the dead letter is kept in a stream, or the event comes back", async () => {
  const durable = "dl_plain";
  const dlq = defaultDeadLetterStream(h.domain);
  const jsm = await jetstreamManager(h.nc);
  const consumer = await consume({ nc: h.nc, domain: h.domain, durable, schemas: rejectAll, backoffMs: [50], handle: () => undefined });
  try {
    // The stream consume() created keeps the dead letters of this domain: both events land there, then are TERMed.
    await waitFor(async () => (await durableSettled(h.nc, stream, durable)) && consumer.stats.deadLettered === 2 || undefined, { what: "dead-lettered into the stream" });
    // Filtered: the stream also keeps the notices of other consumers of the domain.
    const kept = (await readStream(h.nc, dlq)).map((m) => m.data as DeadLetter).filter((l) => l.consumer === durable);
    assert.equal(kept.length, 2);
    assert.match(kept[0]!.error, /does not match its schema/);

    // Without any stream taking the subject, nothing acknowledges the dead letter: the next poison event must not be lost.
    await jsm.streams.delete(dlq);
    assert.equal((await h.send("open_account", { accountId: "poison_2", owner: "Q" })).body.status, "committed");
    await waitFor(() => consumer.stats.retried >= 2 || undefined, { what: "two NAKed dead-letter attempts" });
    assert.equal(consumer.stats.deadLettered, 2, "not TERMed without a PubAck");
    const held = await jsm.consumers.info(stream, durable);
    assert.equal(held.num_ack_pending + held.num_pending, 1, "the event is still held by the durable");

    // Once a stream takes the subject again the event is dead-lettered there.
    await jsm.streams.add({ name: dlq, subjects: [`${h.domain}.dlq.>`] });
    await waitFor(async () => (await durableSettled(h.nc, stream, durable)) && consumer.stats.deadLettered === 3 || undefined, { what: "the third dead letter" });
    const after = (await readStream(h.nc, dlq)).map((m) => m.data as DeadLetter).filter((l) => l.consumer === durable);
    assert.equal(after.length, 1);
    assert.deepEqual((after[0]!.data as { accountId: string }).accountId, "poison_2");
  } finally {
    await consumer.stop();
  }
});
