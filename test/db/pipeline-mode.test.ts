import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import type pg from "pg";
import { bankApp } from "../../examples/bank/index.js";
import { databaseOptionsFromConfig } from "../../src/cli/connection-options.js";
import { createDispatcher } from "../../src/commands/dispatcher.js";
import { parseConfig } from "../../src/config.js";
import { connectDatabase, type Database } from "../../src/db/connection.js";
import { migrateApp } from "../../src/db/migrate-app.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { uniqueKey } from "../kit/names.js";

/**
 * HERALD_DB_PIPELINE: node-postgres' pipeline mode on (the default) and off
 * (the escape hatch), on PostgreSQL. Off, every statement waits for the
 * previous answer; Herald's transactions, the lone path and group commit work
 * the same.
 */
let database: TestDatabase<any>;
const handles: Record<"on" | "off", Database<any>> = {} as Record<"on" | "off", Database<any>>;
/** Per handle: each message sent, and how many earlier ones were unanswered when it left (> 0: pipelined). */
const sent: Record<"on" | "off", Array<{ text: string; unanswered: number }>> = { on: [], off: [] };
const clients: Record<"on" | "off", pg.PoolClient[]> = { on: [], off: [] };

function record(mode: "on" | "off", pool: pg.Pool): void {
  let unanswered = 0;
  pool.on("acquire", (client) => {
    const c = client as typeof client & { recorded?: boolean };
    if (c.recorded) return;
    c.recorded = true;
    clients[mode].push(client);
    const query = c.query.bind(c) as (...args: unknown[]) => unknown;
    (c as { query: unknown }).query = (text: unknown, ...rest: unknown[]) => {
      sent[mode].push({ text: typeof text === "string" ? text : String((text as { text?: string }).text), unanswered: unanswered++ });
      const answer = query(text, ...rest) as Promise<unknown>;
      void answer.then(
        () => unanswered--,
        () => unanswered--,
      );
      return answer;
    };
  });
}

before(async () => {
  database = await createTestDatabase();
  await migrateApp(database.db, bankApp);
  await sql`CREATE TABLE t (id INT PRIMARY KEY)`.execute(database.db);
  for (const mode of ["on", "off"] as const) {
    handles[mode] = await connectDatabase({ url: database.url, poolMax: 2, pipeline: mode === "on" });
    record(mode, handles[mode].pool);
  }
});
after(async () => {
  await Promise.all(Object.values(handles).map((h) => h.destroy()));
  await database?.drop();
});

test("HERALD_DB_PIPELINE is on by default; `false` turns it off for every database connection the CLI makes; other values are refused", () => {
  assert.equal(databaseOptionsFromConfig(parseConfig({})).pipeline, true);
  assert.equal(databaseOptionsFromConfig(parseConfig({ HERALD_DB_PIPELINE: "false" })).pipeline, false);
  assert.equal(databaseOptionsFromConfig(parseConfig({ HERALD_DB_PIPELINE: "true" })).pipeline, true);
  assert.throws(() => parseConfig({ HERALD_DB_PIPELINE: "sometimes" }), /HERALD_DB_PIPELINE/);
});

for (const mode of ["on", "off"] as const) {
  test(`pipeline ${mode}: BEGIN and a first statement with parameters ${mode === "on" ? "leave together" : "leave one after the other"}; the isolation level holds`, async () => {
    const db = handles[mode].db;
    sent[mode].length = 0;
    const id = mode === "on" ? 1 : 2;
    const tx = await db.startTransaction().setIsolationLevel("serializable").execute();
    await sql`INSERT INTO t VALUES (${id})`.execute(tx);
    const level = (await sql<{ l: string }>`SELECT current_setting(${"transaction_isolation"}) AS l`.execute(tx)).rows[0]!.l;
    await tx.commit().execute();
    assert.equal(level, "serializable");
    assert.deepEqual(
      sent[mode].map((m) => m.text),
      ["START TRANSACTION ISOLATION LEVEL SERIALIZABLE", "INSERT INTO t VALUES ($1)", "SELECT current_setting($1) AS l", "COMMIT"],
    );
    assert.deepEqual(sent[mode].map((m) => m.unanswered), mode === "on" ? [0, 1, 0, 0] : [0, 0, 0, 0]);
    assert.ok(clients[mode].every((c) => (c as { pipeline?: boolean }).pipeline === (mode === "on")), "every pooled connection is in the chosen mode");
    assert.equal((await sql<{ id: number }>`SELECT id FROM t WHERE id = ${id}`.execute(database.db)).rows.length, 1);
  });

  test(`pipeline ${mode}: lone commands and group commit commit, reject and replay`, async () => {
    const db = handles[mode].db;
    for (const maxBatchSize of [1, 16]) {
      const d = createDispatcher({ db, domain: `pl${mode}${maxBatchSize}`, commands: bankApp.commands, maxBatchSize, maxConcurrentTransactions: 1 });
      const send = (command: string, body: unknown, key = uniqueKey()) =>
        d.dispatch({ command, body: new TextEncoder().encode(JSON.stringify(body)), idempotencyKey: key });
      const account = `${mode}_${maxBatchSize}`;
      assert.equal((await send("open_account", { accountId: account, owner: "o", initialBalance: 10 })).reply.status, "committed");
      const key = uniqueKey();
      const results = await Promise.all([
        send("deposit", { accountId: account, amount: 5 }, key),
        send("deposit", { accountId: account, amount: 7 }),
        send("transfer", { from: account, to: "nobody", amount: 1 }),
        send("open_account", { accountId: account, owner: "o" }),
      ]);
      assert.deepEqual(results.map((r) => r.reply.status), ["committed", "committed", "rejected", "rejected"]);
      const replay = await send("deposit", { accountId: account, amount: 5 }, key);
      assert.equal(replay.reply.status === "committed" && replay.reply.duplicate, true);
      const { rows } = await sql<{ balance: number }>`SELECT balance FROM bank_accounts WHERE id = ${account}`.execute(database.db);
      assert.equal(rows[0]!.balance, 22);
    }
  });
}
