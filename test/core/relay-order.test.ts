import assert from "node:assert/strict";
import { after, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { sql } from "kysely";
import { cancelCustomerOrders, ordersApp, placeOrder } from "../../examples/orders/index.js";
import { ensureStream } from "../../src/messaging/stream.js";
import { createStreamPublisher, type StreamPublisher } from "../../src/messaging/stream-publisher.js";
import { createEventPublisher } from "../../src/outbox/publisher.js";
import { startOutboxRelay, type OutboxRelay } from "../../src/outbox/relay.js";
import { createClient } from "../../src/index.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { readStream } from "../kit/stream.js";
import { waitFor } from "../kit/wait.js";

/**
 * docs/protocol.md §6 "Order": a command's events are published in the order
 * its handler emitted them, also when two workers' relays share the backlog.
 * A relay leases whole commands; one that took part of a command could let
 * another worker's relay publish the command's later events first.
 */

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** A real publisher that holds its first publish until `release()`: the relay is "slow" exactly there. */
function gated(inner: StreamPublisher): { stream: StreamPublisher; entered: Promise<void>; release(): void } {
  let release!: () => void;
  let entered!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const enteredP = new Promise<void>((resolve) => (entered = resolve));
  let first = true;
  return {
    stream: {
      async publish(subject, data, options) {
        if (first) {
          first = false;
          entered();
          await gate;
        }
        return inner.publish(subject, data, options);
      },
    },
    entered: enteredP,
    release,
  };
}

async function setUp(): Promise<{ h: Harness; commandId: string; eventIds: string[]; stream: string }> {
  const h = await createHarness({ app: ordersApp });
  cleanups.push(() => h.close());
  const worker = await h.startWorker({ prune: false });
  const client = createClient(h.nc, { domain: h.domain });
  for (const id of ["a", "b", "c"]) {
    assert.equal((await client.send(placeOrder, { orderId: id, customerId: "c1", items: [{ sku: "x", quantity: 1, unitPrice: 1 }] })).status, "committed");
  }
  const reply = await client.send(cancelCustomerOrders, { customerId: "c1" });
  assert.ok(reply.status === "committed");
  assert.equal(reply.events.length, 4);
  await worker.stop();
  // As if the worker had crashed between commit and publication: the command's
  // events are unpublished and the stream never had them (a new stream, so no
  // msg-id is remembered either).
  const jsm = await jetstreamManager(h.nc);
  await jsm.streams.delete(worker.stream);
  await ensureStream(jsm, { name: worker.stream, subjects: [`${h.domain}.evt.>`] });
  await sql`UPDATE herald_outbox SET published_at = NULL, stream_seq = NULL, lease_until = NULL WHERE command_id = ${reply.commandId}::UUID`.execute(h.database.db);
  return { h, commandId: reply.commandId, eventIds: reply.events.map((e) => e.id), stream: worker.stream };
}

function relayOf(h: Harness, stream: StreamPublisher, batchSize: number): OutboxRelay {
  const publisher = createEventPublisher({ stream, db: h.database.db });
  // A timer that never fires during the test: passes run only when the test says so.
  const relay = startOutboxRelay({ db: h.database.db, publisher, domain: h.domain, batchSize, intervalMs: 3_600_000, graceMs: 0 });
  cleanups.push(() => relay.stop());
  return relay;
}

test("two workers' relays never split a command: its events reach the stream in emitted order", async () => {
  const { h, eventIds, stream } = await setUp();
  const publisherA = createStreamPublisher(h.nc);
  const publisherB = createStreamPublisher(h.nc);
  cleanups.push(async () => {
    publisherA.close();
    publisherB.close();
  });
  // Batches of 2 events: a relay that leased by rows would take part of the 4-event command.
  const slowA = gated(publisherA);
  const relayA = relayOf(h, slowA.stream, 2);
  const relayB = relayOf(h, publisherB, 2);

  const passA = relayA.runOnce();
  await slowA.entered; // A holds its lease and is publishing the command's first event
  const publishedByB = await relayB.runOnce().finally(() => slowA.release());
  const publishedByA = await passA;

  const messages = await readStream(h.nc, stream);
  assert.deepEqual(messages.map((m) => m.headers["ce-id"]), eventIds, "every event once, in the order the handler emitted them");
  assert.deepEqual([publishedByA, publishedByB], [4, 0], "the other relay leaves a command another relay holds alone");
  const pending = await h.database.db.selectFrom("herald_outbox").select("id").where("published_at", "is", null).execute();
  assert.equal(pending.length, 0);
});

test("relays racing on a backlog of multi-event commands keep each command's order", async () => {
  const { h, eventIds, stream } = await setUp();
  const publishers = [createStreamPublisher(h.nc), createStreamPublisher(h.nc), createStreamPublisher(h.nc)];
  cleanups.push(async () => publishers.forEach((p) => p.close()));
  const relays = publishers.map((p) => relayOf(h, p, 1));
  await Promise.all(relays.map((r) => r.runOnce()));
  await waitFor(async () => (await readStream(h.nc, stream)).length === 4 || undefined, { what: "4 events" });
  assert.deepEqual((await readStream(h.nc, stream)).map((m) => m.headers["ce-id"]), eventIds);
});
