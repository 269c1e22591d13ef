import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import type pg from "pg";
import { z } from "zod";
import { defineCommand } from "../../src/commands/define-command.js";
import { createDispatcher, type Dispatcher } from "../../src/commands/dispatcher.js";
import { connectDatabase, type Database } from "../../src/db/connection.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { uniqueKey } from "../kit/names.js";
import { startTcpProxy, type TcpProxy } from "../kit/tcp-proxy.js";
import { waitFor } from "../kit/wait.js";

/**
 * Group commit with batches side by side, set-based handlers and the messages
 * that carry BEGIN with the claim and the outcomes with COMMIT: every failure
 * loses nothing and applies nothing twice.
 */
let database: TestDatabase<any>;
let proxy: TcpProxy;
/** The workers' database, through the proxy (the test's own checks go direct). */
let viaProxy: Database<any>;
const clients = new Set<pg.PoolClient>();
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

/** Released by a test: the command holding it keeps its transaction slot busy. */
let gate: Promise<void> = Promise.resolve();
/** Resolves once `readers` batches have read counter 0, so they overlap for sure. */
let overlap: { readers: number; seen: number; all: Promise<void>; release: () => void } | undefined;
/** Called by the last handler of a batch (see `bump`), before the outcomes and COMMIT go out. */
let beforeCommit: (() => void) | undefined;

const bump = defineCommand({
  name: "bump",
  input: z.strictObject({ id: z.number().int(), hold: z.boolean().optional(), last: z.boolean().optional() }),
  events: { bumped: z.object({ id: z.number() }) },
  async handle(ctx, input) {
    if (input.hold) await gate;
    // Read, then write what was read plus one: a lost update would show in the count.
    const { rows } = await sql<{ n: number }>`SELECT n FROM counters WHERE id = ${input.id}`.execute(ctx.tx);
    if (overlap && input.id === 0 && ++overlap.seen === overlap.readers) overlap.release();
    if (overlap && input.id === 0) await overlap.all;
    await sql`UPDATE counters SET n = ${rows[0]!.n + 1} WHERE id = ${input.id}`.execute(ctx.tx);
    if (input.last) beforeCommit?.();
    return { result: { id: input.id }, events: [{ name: "bumped", data: { id: input.id } }] };
  },
});

/** A command with a set-based form that fails when asked to. */
const setBump = defineCommand({
  name: "set_bump",
  input: z.strictObject({ id: z.number().int(), fail: z.boolean().optional() }),
  async handle(ctx, input) {
    if (input.fail) throw new Error("handler bug");
    await sql`UPDATE counters SET n = n + 1 WHERE id = ${input.id}`.execute(ctx.tx);
    return { result: { id: input.id } };
  },
  async handleBatch(ctx, inputs) {
    if (inputs.some((i) => i.fail)) throw new Error("set handler bug");
    for (const input of inputs) await sql`UPDATE counters SET n = n + 1 WHERE id = ${input.id}`.execute(ctx.tx);
    return inputs.map((i) => ({ result: { id: i.id } }));
  },
});

function dispatcher(options: { transactions: number; batch: number }): Dispatcher {
  return createDispatcher({ db: viaProxy.db, domain: "pb", commands: [bump, setBump], maxConcurrentTransactions: options.transactions, maxBatchSize: options.batch });
}

before(async () => {
  database = await createTestDatabase();
  await sql`CREATE TABLE counters (id INT PRIMARY KEY, n INT NOT NULL)`.execute(database.db);
  await sql`INSERT INTO counters SELECT g, 0 FROM generate_series(0, 9) AS g`.execute(database.db);
  const { migrateApp } = await import("../../src/db/migrate-app.js");
  const { defineApp } = await import("../../src/commands/define-app.js");
  await migrateApp(database.db, defineApp({ domain: "pb", commands: [bump, setBump] }));
  const url = new URL(database.url);
  proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  url.port = String(proxy.port);
  viaProxy = await connectDatabase<any>({ url: url.toString(), poolMax: 10 });
  viaProxy.pool.on("acquire", (client) => clients.add(client));
});
after(async () => {
  await viaProxy?.destroy();
  await proxy?.close();
  await database?.drop();
});

const counter = async (id: number) => (await sql<{ n: number }>`SELECT n FROM counters WHERE id = ${id}`.execute(database.db)).rows[0]!.n;
const committedRows = async (command: string) =>
  (await database.db.selectFrom("herald_commands").select("id").where("command", "=", command).where("status", "=", "committed").execute()).length;

/** Holds `n` transaction slots with lone commands (counters 5 to 4 + n) until released, so what comes next queues up. */
function holdSlots(d: Dispatcher, n = 1): { release: () => Promise<unknown> } {
  let open!: () => void;
  gate = new Promise<void>((resolve) => (open = resolve));
  const held = Array.from({ length: n }, (_, i) => d.dispatch({ command: "bump", body: encode({ id: 5 + i, hold: true }), idempotencyKey: uniqueKey() }));
  return {
    release: async () => {
      open();
      const replies = await Promise.all(held);
      assert.ok(replies.every((r) => r.reply.status === "committed"), "the slot holders commit");
    },
  };
}

test("batches side by side that truly conflict on one row: each command applied once, none lost", async () => {
  const d = dispatcher({ transactions: 4, batch: 8 });
  const before0 = await counter(0);
  const slots = holdSlots(d, 4);
  // 12 commands queue behind the 4 held slots; once freed, the slots take 3 each and
  // the batches' first handlers all read counter 0 before any of them writes it.
  let release!: () => void;
  overlap = { readers: 3, seen: 0, all: new Promise<void>((r) => (release = r)), release: () => release() };
  const pending = Array.from({ length: 12 }, () => d.dispatch({ command: "bump", body: encode({ id: 0 }), idempotencyKey: uniqueKey() }));
  await slots.release();
  const replies = await Promise.all(pending);
  overlap = undefined;
  assert.ok(d.stats.batches >= 1, `they ran as batches: ${JSON.stringify(d.stats)}`);
  assert.ok(replies.every((r) => r.reply.status === "committed"), JSON.stringify(replies.map((r) => r.reply)));
  assert.ok(d.stats.retries >= 1, "the overlapping batches conflicted");
  assert.equal(await counter(0), before0 + 12, "no lost update, nothing twice");
  const ids = replies.map((r) => (r.reply as { commandId: string }).commandId);
  const stored = await database.db.selectFrom("herald_commands").select("id").where("id", "in", ids).where("status", "=", "committed").execute();
  assert.equal(stored.length, 12, "every committed reply is stored once");
  const events = await database.db.selectFrom("herald_outbox").select("id").where("command_id", "in", ids).execute();
  assert.equal(events.length, 12, "one event each");
});

test("a set-based handler that throws mid-batch: its commands run alone, the good ones commit once, the bad one stores nothing", async () => {
  const d = dispatcher({ transactions: 1, batch: 16 });
  const before1 = await counter(1);
  const slot = holdSlots(d);
  const badKey = uniqueKey();
  const bodies = [{ id: 1 }, { id: 1 }, { id: 1, fail: true }, { id: 1 }, { id: 1 }];
  const pending = bodies.map((b, i) => d.dispatch({ command: "set_bump", body: encode(b), idempotencyKey: i === 2 ? badKey : uniqueKey() }));
  await slot.release();
  const replies = await Promise.all(pending);
  assert.deepEqual(replies.map((r) => r.reply.status), ["committed", "committed", "error", "committed", "committed"]);
  assert.equal(await counter(1), before1 + 4, "the failed batch left nothing; each good command applied once");
  const stored = await database.db.selectFrom("herald_commands").select("id").where("idempotency_key", "=", badKey).execute();
  assert.equal(stored.length, 0);
});

test("a 40001 raised at COMMIT (a deferred trigger) fails the whole batch; it commits on a later attempt, once", async () => {
  await sql`CREATE SEQUENCE commit_failures`.execute(database.db);
  await sql`
    CREATE FUNCTION fail_first_commit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF nextval('commit_failures') = 1 THEN RAISE EXCEPTION 'injected' USING ERRCODE = '40001'; END IF;
      RETURN NULL;
    END $$`.execute(database.db);
  await sql`CREATE CONSTRAINT TRIGGER fail_at_commit AFTER UPDATE ON counters DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.id = 2) EXECUTE FUNCTION fail_first_commit()`.execute(
    database.db,
  );
  try {
    const d = dispatcher({ transactions: 1, batch: 16 });
    const before2 = await counter(2);
    const slot = holdSlots(d);
    const pending = Array.from({ length: 5 }, () => d.dispatch({ command: "set_bump", body: encode({ id: 2 }), idempotencyKey: uniqueKey() }));
    await slot.release();
    const replies = await Promise.all(pending);
    assert.ok(replies.every((r) => r.reply.status === "committed"), JSON.stringify(replies.map((r) => r.reply)));
    assert.ok(Number((await sql<{ v: string }>`SELECT last_value::TEXT AS v FROM commit_failures`.execute(database.db)).rows[0]!.v) >= 2, "the trigger fired again");
    assert.ok(d.stats.retries >= 1, "the batch failed at COMMIT");
    assert.equal(await counter(2), before2 + 5);
    assert.equal(await committedRows("set_bump"), 4 + 5, "nothing stored by the failed attempt");
  } finally {
    await sql`DROP TRIGGER fail_at_commit ON counters`.execute(database.db);
  }
});

test("the connection lost while a batch's outcomes and COMMIT are in flight: resolved by re-reading, each command once", async () => {
  const d = dispatcher({ transactions: 1, batch: 16 });
  const before3 = await counter(3);
  const slot = holdSlots(d);
  // The last handler stalls the proxy, so the message with the outcomes and COMMIT stays on the wire.
  beforeCommit = () => {
    beforeCommit = undefined;
    proxy.stall();
  };
  const bodies = [{ id: 3 }, { id: 3 }, { id: 3 }, { id: 3, last: true }];
  const pending = bodies.map((b) => d.dispatch({ command: "bump", body: encode(b), idempotencyKey: uniqueKey() }));
  await slot.release();
  // Once the COMMIT message is sent (a client has it unanswered), cut every connection.
  const commitInFlight = (c: pg.PoolClient) => {
    const internals = c as unknown as { activeQuery?: { text?: string; commits?: boolean } | null; _sentQueryQueue?: Array<{ text?: string; commits?: boolean }> };
    // A message that ends in COMMIT, or a statement sent with COMMIT under one Sync.
    return [internals.activeQuery, ...(internals._sentQueryQueue ?? [])].some((q) => q?.commits === true || /; COMMIT$/.test(q?.text ?? ""));
  };
  await waitFor(() => [...clients].some(commitInFlight) || undefined, {
    what: "the COMMIT message in flight",
    intervalMs: 2,
    timeoutMs: 10_000,
  });
  proxy.cutAll();
  proxy.resume();
  const replies = await Promise.all(pending);
  assert.ok(replies.every((r) => r.reply.status === "committed"), JSON.stringify(replies.map((r) => r.reply)));
  assert.ok(d.stats.ambiguous >= 1, "the lost COMMIT was resolved by re-reading the keys");
  assert.equal(await counter(3), before3 + 4, "each applied once");
  const ids = replies.map((r) => (r.reply as { commandId: string }).commandId);
  const stored = await database.db.selectFrom("herald_commands").select("id").where("id", "in", ids).execute();
  assert.equal(stored.length, 4);
});
