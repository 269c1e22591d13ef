import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { z } from "zod";
import { bankApp } from "../../examples/bank/index.js";
import { defineCommand } from "../../src/commands/define-command.js";
import { DEADLINE_ANSWER_BOUND_MS } from "../../src/commands/command-deadline.js";
import { createDispatcher, type Dispatcher } from "../../src/commands/dispatcher.js";
import { migrateApp } from "../../src/db/migrate-app.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { uniqueKey } from "../kit/names.js";

let database: TestDatabase<any>;
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

/** Test-only commands: one that can be made to conflict, one that can be made to fail. */
let conflictOnce = false;
let conflictAlways = false;
/** Handler runs per idempotency key. */
const runs = new Map<string, number>();
const bump = defineCommand({
  name: "bump",
  input: z.strictObject({ id: z.number().int(), fail: z.boolean().optional(), rejectAfterWrite: z.boolean().optional() }),
  events: { bumped: z.object({ id: z.number() }) },
  async handle(ctx, input) {
    runs.set(ctx.idempotencyKey, (runs.get(ctx.idempotencyKey) ?? 0) + 1);
    if (input.fail) throw new Error("handler bug");
    await sql`SELECT n FROM counters WHERE id = 0`.execute(ctx.tx);
    // Only on counter 3: the first request of a burst runs alone, the ones queued behind it share a batch.
    if ((conflictOnce || conflictAlways) && input.id === 3) {
      conflictOnce = false;
      // A peer that read what we write and wrote what we read commits first: our transaction must fail.
      const peer = await database.db.startTransaction().setIsolationLevel("serializable").execute();
      await sql`SELECT n FROM counters WHERE id = ${input.id}`.execute(peer);
      await sql`UPDATE counters SET n = n + 100 WHERE id = 0`.execute(peer);
      await peer.commit().execute();
    }
    await sql`UPDATE counters SET n = n + 1 WHERE id = ${input.id}`.execute(ctx.tx);
    if (input.rejectAfterWrite) return ctx.reject("second_thoughts", "wrote, then refused");
    return { result: { id: input.id }, events: [{ name: "bumped", data: { id: input.id } }] };
  },
});

function dispatcher(retry?: { deadlineMs: number }): Dispatcher {
  // One transaction slot: requests sent together queue up and share a transaction.
  return createDispatcher({
    db: database.db,
    domain: "gc",
    commands: [...bankApp.commands, bump],
    maxConcurrentTransactions: 1,
    maxBatchSize: 16,
    retry,
  });
}

before(async () => {
  database = await createTestDatabase();
  await migrateApp(database.db, bankApp);
  await sql`CREATE TABLE counters (id INT PRIMARY KEY, n INT NOT NULL)`.execute(database.db);
  await sql`INSERT INTO counters VALUES (0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (5, 0)`.execute(database.db);
});
after(() => database.drop());

const counters = async () =>
  Object.fromEntries((await sql<{ id: number; n: number }>`SELECT id, n FROM counters ORDER BY id`.execute(database.db)).rows.map((r) => [r.id, r.n]));

test("queued commands commit together; a rejection mid-batch undoes only its own writes", async () => {
  const d = dispatcher();
  const open = (id: string, balance: number) => d.dispatch({ command: "open_account", body: encode({ accountId: id, owner: id, initialBalance: balance }), idempotencyKey: uniqueKey() });
  await Promise.all([open("g_a", 100), open("g_b", 0)]);
  const requests = [
    { from: "g_a", to: "g_b", amount: 10 },
    { from: "g_b", to: "g_a", amount: 1_000 }, // insufficient funds: rejected between two commits
    { from: "g_a", to: "g_b", amount: 20 },
    { from: "g_a", to: "nobody", amount: 1 }, // unknown account: rejected
    { from: "g_a", to: "g_b", amount: 30 },
  ];
  const before = d.stats.batches;
  const results = await Promise.all(requests.map((r) => d.dispatch({ command: "transfer", body: encode(r), idempotencyKey: uniqueKey() })));
  assert.ok(d.stats.batches > before, "at least one transaction held several commands");
  assert.deepEqual(results.map((r) => r.reply.status), ["committed", "rejected", "committed", "rejected", "committed"]);
  const balances = await database.db.selectFrom("bank_accounts").select(["id", "balance"]).where("id", "in", ["g_a", "g_b"]).orderBy("id").execute();
  assert.deepEqual(balances, [{ id: "g_a", balance: 40 }, { id: "g_b", balance: 60 }]);
  for (const r of results) {
    const row = await database.db.selectFrom("herald_commands").select(["status", "attempts"]).where("id", "=", (r.reply as { commandId: string }).commandId).executeTakeFirstOrThrow();
    assert.equal(row.status, r.reply.status);
  }
  const events = await database.db.selectFrom("herald_outbox").select("id").where("type", "=", "transferred").execute();
  assert.equal(events.length, 3, "only committed transfers have events");
});

test("one key twice in the queue: one effect, the same command in both replies", async () => {
  const d = dispatcher();
  const key = uniqueKey();
  const start = await counters();
  const send = () => d.dispatch({ command: "bump", body: encode({ id: 1 }), idempotencyKey: key });
  const [a, b, c] = await Promise.all([send(), send(), send()]);
  assert.equal((a!.reply as any).commandId, (b!.reply as any).commandId);
  assert.equal((a!.reply as any).commandId, (c!.reply as any).commandId);
  assert.equal([a, b, c].filter((r) => (r!.reply as any).duplicate === false).length, 1);
  assert.equal((await counters())[1], start[1] + 1);
});

test("a serialization failure of a batch puts its commands back in the queue; they commit in a later batch, each applied once", async () => {
  const d = dispatcher();
  const start = await counters();
  conflictOnce = true;
  const ids = [2, 3, 4, 5, 2, 3];
  const results = await Promise.all(ids.map((id) => d.dispatch({ command: "bump", body: encode({ id }), idempotencyKey: uniqueKey() })));
  assert.ok(results.every((r) => r.reply.status === "committed"), JSON.stringify(results.map((r) => r.reply)));
  assert.equal(conflictOnce, false, "the conflict was injected");
  assert.ok(d.stats.retries >= 1, "the failed transaction is counted as a retry");
  assert.ok(d.stats.batches >= 1, "the requeued commands were batched again");
  const end = await counters();
  for (const id of [2, 3, 4, 5]) assert.equal(end[id], start[id] + ids.filter((x) => x === id).length, `counter ${id}`);
  assert.equal(end[0], start[0] + 100, "the peer committed once");
  const rows = await database.db.selectFrom("herald_commands").select("id").where("command", "=", "bump").where("status", "=", "committed").execute();
  const outbox = await database.db.selectFrom("herald_outbox").select("command_id").where("type", "=", "bumped").execute();
  assert.equal(outbox.length, rows.length, "one event per committed command");
});

test("a handler bug inside a batch fails only that command; the rest commit and nothing of it is stored", async () => {
  const d = dispatcher();
  const start = await counters();
  const badKey = uniqueKey();
  const bodies = [{ id: 4 }, { id: 5, fail: true }, { id: 4 }, { id: 5 }];
  const results = await Promise.all(
    bodies.map((b, i) => d.dispatch({ command: "bump", body: encode(b), idempotencyKey: i === 1 ? badKey : uniqueKey() })),
  );
  assert.deepEqual(results.map((r) => r.reply.status), ["committed", "error", "committed", "committed"]);
  assert.equal((results[1]!.reply as any).error.code, "internal");
  const end = await counters();
  assert.equal(end[4], start[4] + 2);
  assert.equal(end[5], start[5] + 1);
  const stored = await database.db.selectFrom("herald_commands").select("id").where("idempotency_key", "=", badKey).execute();
  assert.equal(stored.length, 0, "an error reply stores nothing");
});

test("a rejection after a write inside a batch: its write is undone, its neighbours commit, its rejection is stored", async () => {
  const d = dispatcher();
  const start = await counters();
  const key = uniqueKey();
  const bodies = [{ id: 1 }, { id: 2 }, { id: 1, rejectAfterWrite: true }, { id: 2 }, { id: 1 }];
  const results = await Promise.all(bodies.map((b, i) => d.dispatch({ command: "bump", body: encode(b), idempotencyKey: i === 2 ? key : uniqueKey() })));
  assert.deepEqual(results.map((r) => r.reply.status), ["committed", "committed", "rejected", "committed", "committed"]);
  assert.ok(d.stats.batches >= 1, "the others still shared a transaction");
  const end = await counters();
  assert.equal(end[1], start[1] + 2, "the rejected command's UPDATE did not stay");
  assert.equal(end[2], start[2] + 2);
  const stored = await database.db.selectFrom("herald_commands").select("status").where("idempotency_key", "=", key).execute();
  assert.deepEqual(stored, [{ status: "rejected" }]);
});

test("a rejection that only read stays in its batch", async () => {
  const d = dispatcher();
  const open = (id: string, balance: number) => d.dispatch({ command: "open_account", body: encode({ accountId: id, owner: id, initialBalance: balance }), idempotencyKey: uniqueKey() });
  await Promise.all([open("r_a", 5), open("r_b", 0)]);
  const before = d.stats.batches;
  const transfers = [{ from: "r_a", to: "r_b", amount: 1 }, { from: "r_b", to: "r_a", amount: 50 }, { from: "r_a", to: "r_b", amount: 1 }];
  // The first runs alone; the two behind it share the next transaction, a read-only rejection among them.
  const results = await Promise.all(transfers.map((t) => d.dispatch({ command: "transfer", body: encode(t), idempotencyKey: uniqueKey() })));
  assert.deepEqual(results.map((r) => r.reply.status), ["committed", "rejected", "committed"]);
  assert.equal(d.stats.batches, before + 1, "one batch held the rejection and a commit");
});

test("batches that keep conflicting: their commands are answered unavailable at the deadline plus its bound, and nothing of theirs commits", async () => {
  const deadlineMs = 300;
  const d = dispatcher({ deadlineMs });
  const start = await counters();
  conflictAlways = true;
  const keys = Array.from({ length: 6 }, () => uniqueKey());
  try {
    const sent = Date.now();
    const results = await Promise.all(
      keys.map(async (key) => ({ ...(await d.dispatch({ command: "bump", body: encode({ id: 3 }), idempotencyKey: key })), ms: Date.now() - sent })),
    );
    assert.deepEqual(
      results.map((r) => (r.reply.status === "error" ? r.reply.error.code : r.reply.status)),
      Array(6).fill("unavailable"),
    );
    for (const r of results) assert.ok(r.ms <= deadlineMs + DEADLINE_ANSWER_BOUND_MS, `answered after ${r.ms} ms`);
    // The work still running after the answers stops at its next step and rolls back.
    await d.idle();
  } finally {
    conflictAlways = false;
  }
  assert.ok(d.stats.retries >= 1, "a batch conflicted");
  assert.equal((await counters())[3], start[3], "nothing of theirs committed");
  const stored = await database.db.selectFrom("herald_commands").select("id").where("idempotency_key", "in", keys).execute();
  assert.equal(stored.length, 0, "an unavailable reply stores nothing");
});
