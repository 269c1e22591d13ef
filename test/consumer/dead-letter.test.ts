import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { headers as natsHeaders, type Msg } from "@nats-io/nats-core";
import { sql } from "kysely";
import { z } from "zod";
import { consume, deadLetterSubject, PoisonEventError, type DeadLetter } from "../../src/consumer/index.js";
import { durableSettled } from "../kit/durable.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { streamCount } from "../kit/stream.js";
import { waitFor } from "../kit/wait.js";

let h: Harness;
let stream: string;

before(async () => {
  h = await createHarness();
  stream = (await h.startWorker()).stream;
  await sql`CREATE TABLE dl_effects (event_id UUID PRIMARY KEY, account TEXT NOT NULL)`.execute(h.database.db);
  for (const id of ["good_1", "bad", "good_2", "good_3", "ok_1", "nope"]) {
    assert.equal((await h.send("open_account", { accountId: id, owner: id })).body.status, "committed");
  }
  await waitFor(async () => (await streamCount(h.nc, stream)) === 6 || undefined, { what: "6 events" });
});
after(() => h.close());

/** Collects the dead-letter messages of one consumer. */
function listen(durable: string): { messages: DeadLetter[]; close(): void } {
  const messages: DeadLetter[] = [];
  const sub = h.nc.subscribe(deadLetterSubject(h.domain, durable), { callback: (_err, msg: Msg) => void messages.push(msg.json<DeadLetter>()) });
  return { messages, close: () => sub.unsubscribe() };
}

const deadLetters = (consumer: string) =>
  h.database.db.selectFrom("herald_dead_letters").selectAll().where("consumer", "=", consumer).orderBy("stream_seq").execute();

test("a handler failing on one event dead-letters it after maxDeliver; the others are applied", async () => {
  const durable = "failing";
  const dlq = listen(durable);
  await h.nc.flush();
  const attempts = new Map<string, number>();
  const consumer = await consume({
    nc: h.nc,
    db: h.database.db,
    domain: h.domain,
    durable,
    filter: `${h.domain}.evt.account_opened`,
    maxDeliver: 3,
    backoffMs: [20, 40],
    async handle(event, ctx) {
      const account = (event.data as { accountId: string }).accountId;
      attempts.set(account, (attempts.get(account) ?? 0) + 1);
      await sql`INSERT INTO dl_effects (event_id, account) VALUES (${event.id}::UUID, ${account})`.execute(ctx.tx);
      // Thrown after the write: the rollback must take the write with it.
      if (account === "bad") throw new Error(`cannot apply ${account}: downstream rule broken`);
    },
  });
  try {
    await waitFor(async () => (await durableSettled(h.nc, stream, durable)) && dlq.messages.length === 1 || undefined, { what: "settled with one dead letter" });
  } finally {
    await consumer.stop();
    dlq.close();
  }
  assert.equal(attempts.get("bad"), 3, "delivered maxDeliver times");
  const applied = await h.database.db.selectFrom("dl_effects" as any).select("account").orderBy("account").execute();
  assert.deepEqual(applied.map((r: { account: string }) => r.account), ["good_1", "good_2", "good_3", "nope", "ok_1"]);
  assert.deepEqual(consumer.stats, { processed: 5, duplicates: 0, retried: 2, deadLettered: 1 });

  const rows = await deadLetters(durable);
  assert.equal(rows.length, 1);
  const row = rows[0]!;
  assert.equal(row.domain, h.domain);
  assert.equal(row.subject, `${h.domain}.evt.account_opened`);
  assert.equal(row.deliveries, 3);
  assert.match(row.error, /^Error: cannot apply bad: downstream rule broken$/);
  assert.deepEqual(row.data, { accountId: "bad", owner: "bad", initialBalance: 0 });
  assert.equal(row.headers["ce-id"], row.event_id);
  const inbox = await h.database.db.selectFrom("herald_inbox").select("event_id").where("consumer", "=", durable).execute();
  assert.equal(inbox.length, 5, "the dead-lettered event is not in the inbox");
  assert.ok(!inbox.some((r) => r.event_id === row.event_id));

  const notice = dlq.messages[0]!;
  assert.equal(notice.id, row.id);
  assert.equal(notice.eventId, row.event_id);
  assert.equal(notice.consumer, durable);
  assert.equal(notice.deliveries, 3);
  assert.equal(notice.error, row.error);
  assert.equal(notice.streamSeq, row.stream_seq);
});

test("events failing their schema, without a schema, or malformed are poison: dead-lettered at once, handler never called", async () => {
  const durable = "typed";
  const dlq = listen(durable);
  // A message no Herald worker wrote: no CloudEvents headers, not JSON.
  await jetstream(h.nc).publish(`${h.domain}.evt.account_opened`, "not json", { headers: natsHeaders() });
  const seen: string[] = [];
  const consumer = await consume({
    nc: h.nc,
    domain: h.domain,
    durable,
    maxDeliver: 5,
    schemas: { account_opened: z.object({ accountId: z.string().regex(/^(good|ok|bad)/), owner: z.string(), initialBalance: z.number() }) },
    handle(event) {
      // Typed by the schema: no cast needed.
      const id: string = event.data.accountId;
      if (id === "bad") throw new PoisonEventError("bad accounts are never applied");
      seen.push(id);
    },
  });
  try {
    await waitFor(async () => (await durableSettled(h.nc, stream, durable)) && dlq.messages.length === 3 || undefined, { what: "three poison events" });
  } finally {
    await consumer.stop();
    dlq.close();
  }
  assert.deepEqual(seen.sort(), ["good_1", "good_2", "good_3", "ok_1"]);
  const errors = dlq.messages.map((m) => [m.eventId === null ? "no id" : "id", m.deliveries, m.error] as const);
  assert.equal(errors.length, 3);
  assert.ok(errors.every(([, deliveries]) => deliveries === 1), "no retries for poison");
  assert.ok(errors.some(([, , e]) => /PoisonEventError: bad accounts are never applied/.test(e)));
  assert.ok(errors.some(([, , e]) => /\(account_opened\) does not match its schema: accountId/.test(e)));
  assert.ok(errors.some(([id, , e]) => id === "no id" && /no ce-id header/.test(e)));
  assert.equal((await deadLetters(durable)).length, 0, "without a database only the message is sent");
  assert.equal(consumer.stats.deadLettered, 3);
});

test("bad consumer options are refused before anything is created", async () => {
  const handle = () => undefined;
  await assert.rejects(consume({ nc: h.nc, domain: h.domain, durable: "has.dot", handle }), /durable "has.dot"/);
  await assert.rejects(consume({ nc: h.nc, domain: "Bad", durable: "x", handle }), /domain "Bad"/);
  await assert.rejects(consume({ nc: h.nc, domain: h.domain, durable: "x", maxDeliver: 0, handle }), /maxDeliver/);
  await assert.rejects(consume({ nc: h.nc, domain: "nostream_here", durable: "x", handle }), /stream "NOSTREAM_HERE_EVENTS" does not exist/);
});
