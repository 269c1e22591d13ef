import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { z } from "zod";
import { DEADLINE_ANSWER_BOUND_MS } from "../../src/commands/command-deadline.js";
import { defineCommand } from "../../src/commands/define-command.js";
import { createDispatcher, type Dispatcher, type DispatchResult } from "../../src/commands/dispatcher.js";
import { connectDatabase, type Database } from "../../src/db/connection.js";
import { migrateApp } from "../../src/db/migrate-app.js";
import { bankApp } from "../../examples/bank/index.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { uniqueKey } from "../kit/names.js";

/**
 * Every wait a command goes through counts against its deadline, counted from
 * its arrival: it is answered by the deadline plus DEADLINE_ANSWER_BOUND_MS
 * wherever it waits, and what it then answers is true: `unavailable` when its
 * COMMIT never went out (and never will), `unknown_outcome` when it did.
 */
const DEADLINE_MS = 300;
const BOUND = DEADLINE_MS + DEADLINE_ANSWER_BOUND_MS;

let database: TestDatabase<any>;
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

/** Writes a row; `sleepMs` holds its transaction in the handler, `slowCommit` makes its COMMIT slow. */
const put = defineCommand({
  name: "put",
  input: z.strictObject({ id: z.string(), sleepMs: z.number().int().optional(), slowCommit: z.boolean().optional() }),
  events: { put: z.object({ id: z.string() }) },
  async handle(ctx, input) {
    if (input.sleepMs) await sql`SELECT pg_sleep(${input.sleepMs / 1000})`.execute(ctx.tx);
    await sql`INSERT INTO rows (id, slow) VALUES (${input.id}, ${input.slowCommit ?? false})`.execute(ctx.tx);
    return { result: { id: input.id }, events: [{ name: "put", data: { id: input.id } }] };
  },
});

function dispatcher(db: Database["db"], maxBatchSize: number, transactions = 1): Dispatcher {
  return createDispatcher({ db, domain: "dl", commands: [put], maxBatchSize, maxConcurrentTransactions: transactions, retry: { deadlineMs: DEADLINE_MS } });
}

async function timed(d: Dispatcher, body: unknown, key = uniqueKey()): Promise<DispatchResult & { ms: number; key: string }> {
  const started = Date.now();
  const result = await d.dispatch({ command: "put", body: encode(body), idempotencyKey: key });
  return { ...result, ms: Date.now() - started, key };
}

const codeOf = (r: DispatchResult) => (r.reply.status === "error" ? r.reply.error.code : r.reply.status);
const stored = async (key: string) =>
  (await sql<{ status: string }>`SELECT status FROM herald_commands WHERE idempotency_key = ${key}`.execute(database.db)).rows.map((r) => r.status);
const rowExists = async (id: string) => (await sql`SELECT 1 FROM rows WHERE id = ${id}`.execute(database.db)).rows.length === 1;

before(async () => {
  database = await createTestDatabase();
  await migrateApp(database.db, bankApp);
  // A deferred trigger sleeps at COMMIT for rows marked slow: the COMMIT is sent, its answer comes late.
  await sql.raw(`
    CREATE TABLE rows (id TEXT PRIMARY KEY, slow BOOLEAN NOT NULL);
    CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.slow THEN PERFORM pg_sleep(${(DEADLINE_MS * 3) / 1000}); END IF; RETURN NULL; END $$;
    CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON rows DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();`).execute(database.db);
});
after(() => database?.drop());

for (const [path, batch] of [["lone", 1], ["group commit", 16]] as const) {
  test(`${path}: a command waiting behind a slow transaction is answered unavailable by its deadline and never commits`, async () => {
    const d = dispatcher(database.db, batch);
    const id = uniqueKey();
    // The slow one holds the only transaction slot longer than the deadline; the second waits for it (queue or limit).
    const slow = timed(d, { id: `${id}_slow`, sleepMs: DEADLINE_MS * 2 });
    const waiting = await timed(d, { id: `${id}_wait` });
    assert.equal(codeOf(waiting), "unavailable", JSON.stringify(waiting.reply));
    assert.ok(waiting.ms <= BOUND, `answered after ${waiting.ms} ms, bound ${BOUND} ms`);
    assert.equal(codeOf(await slow), "unavailable", "the slow one's own deadline passed in its handler");
    await d.idle();
    assert.deepEqual(await stored(waiting.key), [], "an unavailable reply stores nothing, also after the slot frees");
    assert.equal(await rowExists(`${id}_wait`), false);
    assert.equal(await rowExists(`${id}_slow`), false, "the handler outlived the deadline: it rolled back instead of committing");
  });

  test(`${path}: a COMMIT sent and not answered by the deadline is answered unknown_outcome; a retry with the key learns it`, async () => {
    const d = dispatcher(database.db, batch);
    const id = uniqueKey();
    const first = await timed(d, { id, slowCommit: true });
    assert.equal(codeOf(first), "unknown_outcome", JSON.stringify(first.reply));
    assert.equal(first.reply.status === "error" && (first.reply.error as { code: string }).code, "unknown_outcome");
    assert.ok(first.ms <= BOUND, `answered after ${first.ms} ms, bound ${BOUND} ms`);
    await d.idle();
    assert.deepEqual(await stored(first.key), ["committed"], "the late COMMIT landed, once");
    const again = await timed(d, { id, slowCommit: true }, first.key);
    assert.equal(again.reply.status, "committed", JSON.stringify(again.reply));
    assert.equal(again.reply.status === "committed" && again.reply.duplicate, true, "the retry gets the stored outcome");
    assert.equal(d.stats.errors.unknown_outcome, 1, "counted once, as answered");
  });
}

test("a command waiting for a pool connection is answered by its deadline; once the connection frees it does nothing", async () => {
  const small = await connectDatabase({ url: database.url, poolMax: 1 });
  const held = await small.pool.connect();
  let released = false;
  try {
    const d = dispatcher(small.db, 16, 4);
    const id = uniqueKey();
    const r = await timed(d, { id });
    assert.equal(codeOf(r), "unavailable", JSON.stringify(r.reply));
    assert.ok(r.ms <= BOUND, `answered after ${r.ms} ms, bound ${BOUND} ms`);
    held.release();
    released = true;
    await d.idle();
    assert.deepEqual(await stored(r.key), []);
    assert.equal(await rowExists(id), false);
  } finally {
    if (!released) held.release();
    await small.destroy();
  }
});

test("without contention the deadline changes nothing: commands commit and the timer is cleared", async () => {
  const d = dispatcher(database.db, 16, 4);
  const results = await Promise.all(Array.from({ length: 20 }, () => timed(d, { id: uniqueKey() })));
  assert.deepEqual(new Set(results.map(codeOf)), new Set(["committed"]));
  assert.equal(d.stats.committed, 20);
  assert.deepEqual(d.stats.errors, {});
});
