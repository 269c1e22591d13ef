import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import type pg from "pg";
import { z } from "zod";
import { defineCommand } from "../../src/commands/define-command.js";
import { createDispatcher, type Dispatcher } from "../../src/commands/dispatcher.js";
import { migrateApp } from "../../src/db/migrate-app.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { uniqueKey } from "../kit/names.js";

/**
 * A lone command (no group commit) claims its key in the statement that stores
 * its outcome, after the handler ran: these tests pin down that a duplicate
 * still gets the stored answer and leaves nothing of the re-run behind.
 */
let database: TestDatabase<any>;
let statements = 0;
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

/** Inserts a row with a plain INSERT: re-running it for a stored key fails with a unique violation. */
const register = defineCommand({
  name: "register",
  input: z.strictObject({ name: z.string(), rejectAfterWrite: z.boolean().optional() }),
  events: { registered: z.object({ name: z.string() }) },
  async handle(ctx, input) {
    await sql`INSERT INTO names (name) VALUES (${input.name})`.execute(ctx.tx);
    if (input.rejectAfterWrite) return ctx.reject("changed_mind", "wrote, then said no");
    return { result: { name: input.name }, events: [{ name: "registered", data: { name: input.name } }] };
  },
});

/** Reads, writes, and rejects when the counter is already past a limit. */
const bump = defineCommand({
  name: "bump",
  input: z.strictObject({ limit: z.number().int() }),
  events: {},
  async handle(ctx, input) {
    const row = await sql<{ n: number }>`SELECT n FROM counter WHERE id = 1`.execute(ctx.tx);
    if (row.rows[0]!.n >= input.limit) return ctx.reject("limit", "counter at its limit");
    await sql`UPDATE counter SET n = n + 1 WHERE id = 1`.execute(ctx.tx);
    return { result: { n: row.rows[0]!.n + 1 } };
  },
});

function dispatcher(): Dispatcher {
  return createDispatcher({ db: database.db, domain: "lone", commands: [register, bump], maxBatchSize: 1 });
}

const send = (d: Dispatcher, command: string, body: unknown, key = uniqueKey()) =>
  d.dispatch({ command, body: encode(body), idempotencyKey: key });

const count = async (table: string) => Number((await sql<{ n: string }>`SELECT count(*) AS n FROM ${sql.table(table)}`.execute(database.db)).rows[0]!.n);

before(async () => {
  database = await createTestDatabase();
  await migrateApp(database.db);
  await sql`CREATE TABLE names (name TEXT PRIMARY KEY)`.execute(database.db);
  await sql`CREATE TABLE counter (id INT PRIMARY KEY, n INT NOT NULL)`.execute(database.db);
  await sql`INSERT INTO counter VALUES (1, 0)`.execute(database.db);
  // Counts what reaches the server: one query call is one round trip.
  database.pool.on("acquire", (client: pg.PoolClient & { counted?: boolean }) => {
    if (client.counted) return;
    client.counted = true;
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: unknown }).query = (...args: unknown[]) => {
      statements++;
      return query(...args);
    };
  });
});
after(() => database.drop());

test("a committed lone command costs its handler's statements plus two round trips", async () => {
  const d = dispatcher();
  const before = statements;
  const reply = await send(d, "register", { name: "trips" });
  assert.equal(reply.reply.status, "committed");
  // BEGIN with the savepoint, the handler's INSERT, the outcome with its event and COMMIT.
  assert.equal(statements - before, 3);
});

test("a duplicate whose handler now fails (its row exists) still gets the stored reply, and nothing more is written", async () => {
  const d = dispatcher();
  const key = uniqueKey();
  const first = await send(d, "register", { name: "ada" }, key);
  assert.equal(first.reply.status, "committed");
  const [names, outbox] = [await count("names"), await count("herald_outbox")];
  const second = await send(d, "register", { name: "ada" }, key);
  assert.equal(second.reply.status, "committed");
  assert.equal((second.reply as { duplicate: boolean }).duplicate, true);
  assert.equal((second.reply as { commandId: string }).commandId, (first.reply as { commandId: string }).commandId);
  assert.deepEqual(second.events, [], "a replay publishes nothing");
  assert.equal(await count("names"), names);
  assert.equal(await count("herald_outbox"), outbox);
});

test("a key reused with another payload is 409 and the re-run's writes are undone", async () => {
  const d = dispatcher();
  const key = uniqueKey();
  await send(d, "register", { name: "grace" }, key);
  const names = await count("names");
  const reused = await send(d, "register", { name: "hopper" }, key);
  assert.equal(reused.reply.status, "error");
  assert.equal((reused.reply as { error: { code: string } }).error.code, "idempotency_key_reused");
  assert.equal(await count("names"), names, "the second run's INSERT was rolled back");
  const stored = await database.db.selectFrom("herald_commands").select("payload").where("idempotency_key", "=", key).execute();
  assert.deepEqual(stored.map((r: { payload: unknown }) => r.payload), [{ name: "grace" }]);
});

test("a rejection after a write keeps only the stored rejection; its duplicate replays it", async () => {
  const d = dispatcher();
  const key = uniqueKey();
  const names = await count("names");
  const first = await send(d, "register", { name: "linus", rejectAfterWrite: true }, key);
  assert.equal(first.reply.status, "rejected");
  assert.equal(await count("names"), names, "the handler's INSERT was undone");
  const again = await send(d, "register", { name: "linus", rejectAfterWrite: true }, key);
  assert.equal(again.reply.status, "rejected");
  assert.equal((again.reply as { duplicate: boolean }).duplicate, true);
  const rows = await database.db.selectFrom("herald_commands").select("status").where("idempotency_key", "=", key).execute();
  assert.deepEqual(rows, [{ status: "rejected" }]);
});

test("a duplicate that would now be rejected replays the stored commit instead", async () => {
  const d = dispatcher();
  await sql`UPDATE counter SET n = 0 WHERE id = 1`.execute(database.db);
  const key = uniqueKey();
  const first = await send(d, "bump", { limit: 1 }, key);
  assert.equal(first.reply.status, "committed");
  // The counter is at its limit now: a fresh run would reject, the replay must not.
  const again = await send(d, "bump", { limit: 1 }, key);
  assert.equal(again.reply.status, "committed");
  assert.equal((again.reply as { duplicate: boolean }).duplicate, true);
  const n = (await sql<{ n: number }>`SELECT n FROM counter WHERE id = 1`.execute(database.db)).rows[0]!.n;
  assert.equal(n, 1);
});

test("concurrent requests with one key: one effect, one stored command, every reply the same command", async () => {
  const d = createDispatcher({ db: database.db, domain: "lone", commands: [register, bump], maxBatchSize: 1, maxConcurrentTransactions: 8 });
  await sql`UPDATE counter SET n = 0 WHERE id = 1`.execute(database.db);
  const key = uniqueKey();
  const replies = await Promise.all(Array.from({ length: 8 }, () => send(d, "bump", { limit: 100 }, key)));
  const ids = new Set(replies.map((r) => (r.reply as { commandId: string }).commandId));
  assert.equal(ids.size, 1, JSON.stringify(replies.map((r) => r.reply)));
  assert.equal(replies.filter((r) => (r.reply as { duplicate: boolean }).duplicate === false).length, 1);
  const n = (await sql<{ n: number }>`SELECT n FROM counter WHERE id = 1`.execute(database.db)).rows[0]!.n;
  assert.equal(n, 1);
});

test("quotes, backslashes and SQL in keys and payloads are stored and replayed as they came", async () => {
  const d = dispatcher();
  const key = `k';DROP_TABLE_names;--\\'${uniqueKey()}`;
  const name = `o'brien \\' ); DELETE FROM herald_commands; -- \u{1F600} $1 $$`;
  const first = await send(d, "register", { name }, key);
  assert.equal(first.reply.status, "committed", JSON.stringify(first.reply));
  assert.deepEqual((first.reply as { result: unknown }).result, { name });
  const again = await send(d, "register", { name }, key);
  assert.equal((again.reply as { duplicate: boolean }).duplicate, true);
  const stored = await database.db.selectFrom("herald_commands").select(["idempotency_key", "payload", "reply"]).where("idempotency_key", "=", key).executeTakeFirstOrThrow();
  assert.equal(stored.idempotency_key, key);
  assert.deepEqual(stored.payload, { name });
  assert.deepEqual((stored.reply as { result: unknown }).result, { name });
  const event = await database.db.selectFrom("herald_outbox").select("data").where("command_id", "=", (first.reply as { commandId: string }).commandId).executeTakeFirstOrThrow();
  assert.deepEqual(event.data, { name });
  assert.ok((await count("names")) > 0, "nothing was dropped");
});
