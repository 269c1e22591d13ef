import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { sql } from "kysely";
import { consume, type HeraldConsumer } from "../../src/consumer/index.js";
import { spawnCli } from "../kit/cli.js";
import { durableSettled } from "../kit/durable.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { connectSharedNats } from "../kit/nats-server.js";
import { streamCount } from "../kit/stream.js";
import { waitFor } from "../kit/wait.js";

const FIXTURE = fileURLToPath(new URL("../fixtures/ledger-consumer.ts", import.meta.url));
let h: Harness;
let stream: string;
const EVENTS = 60;

before(async () => {
  h = await createHarness();
  stream = (await h.startWorker()).stream;
  await sql`CREATE TABLE ledger_effects (event_id UUID NOT NULL, seq BIGINT NOT NULL, consumer TEXT NOT NULL DEFAULT 'child')`.execute(h.database.db);
  await sql`CREATE TABLE ledger_counter (id TEXT PRIMARY KEY, n INT NOT NULL)`.execute(h.database.db);
  await sql`INSERT INTO ledger_counter (id, n) VALUES ('all', 0)`.execute(h.database.db);
  // 20 accounts opened, 40 deposits: 60 events.
  for (let i = 0; i < 20; i++) assert.equal((await h.send("open_account", { accountId: `acc${i}`, owner: `O${i}` })).body.status, "committed");
  await Promise.all(Array.from({ length: 40 }, (_, i) => h.send("deposit", { accountId: `acc${i % 20}`, amount: i + 1 })));
  await waitFor(async () => (await streamCount(h.nc, stream)) === EVENTS || undefined, { what: `${EVENTS} events in the stream` });
});
after(() => h.close());

async function effects(consumer: string): Promise<{ rows: number; distinct: number }> {
  const { rows } = await sql<{ rows: number; distinct: number }>`
    SELECT count(*)::INT AS rows, count(DISTINCT event_id)::INT AS distinct FROM ledger_effects WHERE consumer = ${consumer}`.execute(h.database.db);
  return rows[0]!;
}

test("a consumer process SIGKILLed mid-batch and restarted applies each event exactly once", async () => {
  const durable = "ledger";
  const start = () => spawnCli([h.domain, durable], { command: [process.execPath, "--import", "tsx", FIXTURE], env: { DATABASE_URL: h.database.url } });
  const first = start();
  await first.waitForLine(/consumer ready/);
  // Kill once some, not all, events are applied: the batch in hand dies with the process.
  await waitFor(async () => (await effects("child")).rows >= 15 || undefined, { what: "15 events applied" });
  first.child.kill("SIGKILL");
  await first.exited;
  const atKill = await effects("child");
  assert.ok(atKill.rows < EVENTS, `killed before the end (${atKill.rows} applied)`);
  const held = await (await jetstreamManager(h.nc)).consumers.info(stream, durable);
  assert.ok(held.num_ack_pending > 0, "the killed process held delivered, unacknowledged events");

  const second = start();
  try {
    await second.waitForLine(/consumer ready/);
    await waitFor(async () => (await effects("child")).distinct === EVENTS && (await durableSettled(h.nc, stream, durable)) || undefined, {
      what: "every event applied and acknowledged",
      timeoutMs: 30_000,
    });
  } finally {
    second.child.kill("SIGTERM");
  }
  assert.equal(await second.stopped(15_000), 0, second.stderr());
  assert.deepEqual(await effects("child"), { rows: EVENTS, distinct: EVENTS }, "no event applied twice");
  const counter = await h.database.db.selectFrom("ledger_counter" as any).select("n").executeTakeFirstOrThrow();
  assert.equal(counter.n, EVENTS);
  const inbox = await h.database.db.selectFrom("herald_inbox").select((eb) => eb.fn.countAll<number>().as("n")).where("consumer", "=", durable).executeTakeFirstOrThrow();
  assert.equal(Number(inbox.n), EVENTS);
});

test("events committed but never acknowledged (connection lost) are recognised by the inbox, not applied again", async () => {
  const durable = "abrupt";
  const record = (consumerName: string) => async (event: { id: string; seq: number }, ctx: { tx: any }) => {
    await sql`INSERT INTO ledger_effects (event_id, seq, consumer) VALUES (${event.id}::UUID, ${event.seq}, ${consumerName})`.execute(ctx.tx);
  };
  const lost: NatsConnection = await connectSharedNats("abrupt-a");
  let calls = 0;
  const a = await consume({
    nc: lost,
    db: h.database.db,
    domain: h.domain,
    durable,
    ackWaitMs: 1000,
    batch: 10,
    async handle(event, ctx) {
      await record(durable)(event, ctx);
      // The 8th event's transaction commits, but its ack (and the rest of the batch's) has no connection left.
      if (++calls === 8) void lost.close();
    },
  });
  await waitFor(() => lost.isClosed() || undefined, { what: "the first instance's connection closed" });
  await a.stop();
  const applied = await effects(durable);
  assert.ok(applied.rows >= 8 && applied.rows < EVENTS, `a partial batch was applied (${applied.rows})`);
  assert.ok(a.stats.processed >= 8);

  const b = await consume({ nc: h.nc, db: h.database.db, domain: h.domain, durable, ackWaitMs: 1000, batch: 10, handle: record(durable) });
  try {
    await waitFor(async () => (await effects(durable)).distinct === EVENTS && (await durableSettled(h.nc, stream, durable)) || undefined, {
      what: "every event applied and acknowledged",
      timeoutMs: 30_000,
    });
  } finally {
    await b.stop();
  }
  assert.deepEqual(await effects(durable), { rows: EVENTS, distinct: EVENTS }, "no event applied twice");
  assert.ok(b.stats.duplicates >= 1, "the committed, unacknowledged events came back and were skipped");
  assert.equal(a.stats.processed + b.stats.processed, EVENTS);
});

test("two instances share a durable: each event applied once; one instance sees its events in stream order", async () => {
  const shared = "shared";
  const apply = async (event: { id: string; seq: number }, ctx: { tx: any }) => {
    await sql`INSERT INTO ledger_effects (event_id, seq, consumer) VALUES (${event.id}::UUID, ${event.seq}, ${shared})`.execute(ctx.tx);
  };
  const instances: HeraldConsumer[] = [];
  for (let i = 0; i < 2; i++) instances.push(await consume({ nc: h.nc, db: h.database.db, domain: h.domain, durable: shared, batch: 5, handle: apply }));

  const seen: number[] = [];
  const solo = await consume({ nc: h.nc, domain: h.domain, durable: "solo", handle: (event) => void seen.push(event.seq) });
  try {
    await waitFor(async () => (await effects(shared)).distinct === EVENTS && seen.length === EVENTS || undefined, { what: "both consumers done" });
  } finally {
    await Promise.all([...instances, solo].map((c) => c.stop()));
  }
  assert.deepEqual(await effects(shared), { rows: EVENTS, distinct: EVENTS });
  assert.deepEqual(seen, [...seen].sort((x, y) => x - y), "stream order");
  assert.equal(new Set(seen).size, EVENTS);
});
