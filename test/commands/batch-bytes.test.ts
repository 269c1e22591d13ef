import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { z } from "zod";
import { defineCommand } from "../../src/commands/define-command.js";
import { createDispatcher, DEFAULT_MAX_BATCH_BYTES } from "../../src/commands/dispatcher.js";
import { migrateApp } from "../../src/db/migrate-app.js";
import { bankApp } from "../../examples/bank/index.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { uniqueKey } from "../kit/names.js";
import { openStatementLog, type LoggedQuery } from "../kit/statement-log.js";

/**
 * Group commit caps a batch by bytes as well as by count: every value of a
 * batch travels in two statements (as array parameters), and CockroachDB
 * refuses a statement over 16 MiB (docs/cockroachdb.md, "Statement size").
 */
const COCKROACH_STATEMENT_LIMIT = 16 * 1024 * 1024;

let database: TestDatabase<any>;
const note = defineCommand({
  name: "note",
  input: z.strictObject({ text: z.string().max(70_000) }),
  events: { noted: z.object({ length: z.number() }) },
  async handle(_ctx, input) {
    return { result: { length: input.text.length }, events: [{ name: "noted", data: { length: input.text.length } }] };
  },
});

before(async () => {
  database = await createTestDatabase();
  await migrateApp(database.db, bankApp);
});
after(() => database?.drop());

/** The claim statements sent (one per batch) and how many commands each claimed: the length of its id array. */
function claims(queries: readonly LoggedQuery[]): number[] {
  return queries
    .filter((q) => /INSERT INTO herald_commands/.test(q.text) && /ON CONFLICT \(domain, idempotency_key\) DO NOTHING/.test(q.text))
    .map((q) => {
      const ids = q.values.find(Array.isArray);
      assert.ok(ids, "a claim carries its rows as array parameters");
      return ids.length;
    });
}

/** What a query puts on the wire, roughly: its text and the text of every parameter. */
function messageBytes(q: LoggedQuery): number {
  const text = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v) ?? "");
  return q.values.reduce<number>((sum, v) => sum + Buffer.byteLength(text(v)), Buffer.byteLength(q.text));
}

async function burst(maxBatchBytes: number | undefined, count: number, text: string) {
  // One slot: the first request runs alone, the rest queue and are batched.
  const d = createDispatcher({ db: database.db, domain: `bb${uniqueKey().slice(-6)}`, commands: [note], maxConcurrentTransactions: 1, maxBatchSize: 64, maxBatchBytes });
  const body = new TextEncoder().encode(JSON.stringify({ text }));
  const log = openStatementLog();
  try {
    const results = await Promise.all(Array.from({ length: count }, () => d.dispatch({ command: "note", body, idempotencyKey: uniqueKey() })));
    assert.deepEqual(new Set(results.map((r) => r.reply.status)), new Set(["committed"]));
    return { bodyBytes: body.byteLength, sizes: claims(log.queries), longest: Math.max(...log.queries.map(messageBytes)) };
  } finally {
    log.close();
  }
}

test("a batch holds no more request-body bytes than maxBatchBytes", async () => {
  const { bodyBytes, sizes } = await burst(10_000, 12, "x".repeat(3000));
  const perBatch = Math.floor(10_000 / bodyBytes);
  assert.equal(perBatch, 3);
  assert.ok(sizes.some((n) => n > 1), `some commands shared a batch: ${sizes.join(",")}`);
  assert.ok(sizes.every((n) => n <= perBatch), `batches of ${sizes.join(",")} commands, at most ${perBatch} fit`);
  assert.equal(sizes.reduce((a, b) => a + b, 0), 11, "every command but the first (which found the slot free and ran alone) was claimed in a batch");
});

test("at the default bound, 64 bodies of 64 KiB full of quotes never make a statement near CockroachDB's 16 MiB limit", async (t) => {
  // Each quote doubles in SQL, each backslash doubles in JSON and again in SQL.
  const { bodyBytes, sizes, longest } = await burst(undefined, 64, "'\\".repeat(21_000));
  assert.ok(bodyBytes > 60_000 && bodyBytes <= 65_536, `bodies of ${bodyBytes} bytes`);
  assert.ok(sizes.some((n) => n > 1), `some commands shared a batch: ${sizes.join(",")}`);
  assert.ok(sizes.every((n) => n * bodyBytes <= DEFAULT_MAX_BATCH_BYTES), `batches of ${sizes.join(",")}`);
  assert.ok(longest < COCKROACH_STATEMENT_LIMIT / 2, `the longest message was ${longest} bytes`);
  t.diagnostic(`batches of ${sizes.join(",")} commands; longest message ${longest} bytes`);
  const stored = await sql<{ n: number }>`SELECT count(*)::INT AS n FROM herald_commands WHERE command = 'note' AND status = 'committed'`.execute(database.db);
  assert.equal(stored.rows[0]!.n, 64 + 12);
});
