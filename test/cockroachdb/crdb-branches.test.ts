import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { z } from "zod";
import { bankApp } from "../../examples/bank/index.js";
import { defineCommand } from "../../src/commands/define-command.js";
import { createDispatcher, type Dispatcher } from "../../src/commands/dispatcher.js";
import { BATCH_LOCK_TIMEOUT_MS } from "../../src/commands/batch-attempt.js";
import { connectDatabase, type DialectName } from "../../src/db/connection.js";
import { migrateApp } from "../../src/db/migrate-app.js";
import { classifyError } from "../../src/db/sqlstate.js";
import { transact } from "../../src/db/transact.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { uniqueKey } from "../kit/names.js";
import { openStatementLog, splitStatements } from "../kit/statement-log.js";

/**
 * CockroachDB-only behaviour forced on PostgreSQL: the server raises the errors
 * CockroachDB raises (its SQLSTATEs and messages), from a handler's statement or
 * at COMMIT (a deferred constraint trigger fires there, as CockroachDB's
 * RETRY_SERIALIZABLE and "result is ambiguous" do), and version() reports
 * CockroachDB. Faults are counted by a sequence, which a rollback does not undo.
 */
let database: TestDatabase<any>;
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

const RETRY_MESSAGE =
  "restart transaction: TransactionRetryWithProtoRefreshError: TransactionRetryError: retry txn (RETRY_SERIALIZABLE - failed preemptive refresh due to conflicting locks on /Table/106/1/918951292305080321/0)";
const AMBIGUOUS_MESSAGE = "result is ambiguous: error=ba: EndTxn(commit) [/Table/106/1/1/0] failed: rpc error: code = Unavailable";


const bump = defineCommand({
  name: "bump",
  input: z.strictObject({ id: z.number().int(), fault: z.enum(["retry", "bug"]).optional() }),
  events: { bumped: z.object({ id: z.number() }) },
  async handle(ctx, input) {
    if (input.fault === "retry") await sql`SELECT herald_fault('handler_retry')`.execute(ctx.tx);
    if (input.fault === "bug") throw new Error("handler bug");
    await sql`UPDATE counters SET n = n + 1 WHERE id = ${input.id}`.execute(ctx.tx);
    return { result: { id: input.id }, events: [{ name: "bumped", data: { id: input.id } }] };
  },
});

function dispatcher(maxBatchSize: number, dialect: DialectName = "postgresql"): Dispatcher {
  return createDispatcher({ db: database.db, domain: "crdb", commands: [bump], maxBatchSize, maxConcurrentTransactions: 1, dialect });
}
const send = (d: Dispatcher, body: unknown, key = uniqueKey()) => d.dispatch({ command: "bump", body: encode(body), idempotencyKey: key });
const counter = async (id: number) => Number((await sql<{ n: number }>`SELECT n FROM counters WHERE id = ${id}`.execute(database.db)).rows[0]!.n);
const stored = async (key: string) => Number((await sql<{ n: string }>`SELECT count(*) AS n FROM herald_commands WHERE idempotency_key = ${key}`.execute(database.db)).rows[0]!.n);

before(async () => {
  database = await createTestDatabase();
  await migrateApp(database.db, bankApp);
  await sql`CREATE TABLE counters (id INT PRIMARY KEY, n INT NOT NULL)`.execute(database.db);
  await sql`INSERT INTO counters SELECT g, 0 FROM generate_series(0, 9) AS g`.execute(database.db);
  for (const kind of ["handler_retry", "commit_retry", "commit_ambiguous", "commit_bug"]) {
    // fault_<kind> counts calls; a call raises while the count is at most fault_<kind>_limit's value.
    await sql.raw(`CREATE SEQUENCE fault_${kind}; CREATE SEQUENCE fault_${kind}_limit MINVALUE 0 START 0; SELECT nextval('fault_${kind}_limit')`).execute(database.db);
  }
  await sql.raw(`
    CREATE FUNCTION herald_fault(kind TEXT) RETURNS VOID LANGUAGE plpgsql AS $$
    DECLARE
      n BIGINT := nextval('fault_' || kind);
      lim BIGINT;
    BEGIN
      EXECUTE format('SELECT last_value FROM %I', 'fault_' || kind || '_limit') INTO lim;
      IF n <= lim THEN
        IF kind = 'commit_ambiguous' THEN
          RAISE EXCEPTION USING ERRCODE = '40003', MESSAGE = '${AMBIGUOUS_MESSAGE}';
        END IF;
        IF kind = 'commit_bug' THEN
          RAISE EXCEPTION USING ERRCODE = '23514', MESSAGE = 'a deferred check failed at COMMIT';
        END IF;
        RAISE EXCEPTION USING ERRCODE = '40001', MESSAGE = '${RETRY_MESSAGE}',
          HINT = 'See: https://www.cockroachlabs.com/docs/v24.3/transaction-retry-error-reference.html#retry_serializable';
      END IF;
    END $$;
    CREATE FUNCTION herald_fault_at_commit() RETURNS TRIGGER LANGUAGE plpgsql AS $$
    BEGIN PERFORM herald_fault(TG_ARGV[0]); RETURN NULL; END $$;
    CREATE CONSTRAINT TRIGGER commit_retry AFTER INSERT OR UPDATE ON herald_commands DEFERRABLE INITIALLY DEFERRED
      FOR EACH ROW EXECUTE FUNCTION herald_fault_at_commit('commit_retry');
    CREATE CONSTRAINT TRIGGER commit_ambiguous AFTER INSERT OR UPDATE ON herald_commands DEFERRABLE INITIALLY DEFERRED
      FOR EACH ROW EXECUTE FUNCTION herald_fault_at_commit('commit_ambiguous');
    CREATE CONSTRAINT TRIGGER commit_bug AFTER INSERT OR UPDATE ON herald_commands DEFERRABLE INITIALLY DEFERRED
      FOR EACH ROW EXECUTE FUNCTION herald_fault_at_commit('commit_bug');`).execute(database.db);
});
after(() => database?.drop());

/** Arms `count` raises of `kind` from now on (the counter and its limit move together). */
async function faults(kind: string, count: number): Promise<void> {
  const { rows } = await sql<{ at: string }>`SELECT nextval(${`fault_${kind}`}) AS at`.execute(database.db);
  await sql`SELECT setval(${`fault_${kind}_limit`}, ${Number(rows[0]!.at) + count}, true)`.execute(database.db);
}

test("dialect detection: a server whose version() says CockroachDB is detected as cockroachdb", async () => {
  await sql.raw(`CREATE SCHEMA fake_crdb; CREATE FUNCTION fake_crdb.version() RETURNS TEXT LANGUAGE sql AS $$ SELECT 'CockroachDB CCL v24.3.5 (x86_64-pc-linux-gnu, built 2025/01/29 16:31:46, go1.22.8 X:nocoverageredesign)' $$`).execute(database.db);
  const url = new URL(database.url);
  url.searchParams.set("options", "-c search_path=fake_crdb,pg_catalog,public");
  const crdb = await connectDatabase({ url: url.toString(), poolMax: 1 });
  try {
    assert.equal(crdb.dialect, "cockroachdb");
  } finally {
    await crdb.destroy();
  }
  const pg = await connectDatabase({ url: database.url, poolMax: 1 });
  try {
    assert.equal(pg.dialect, "postgresql");
  } finally {
    await pg.destroy();
  }
});

test("CockroachDB's retry and ambiguity errors are classified by SQLSTATE, whatever their message", async () => {
  await faults("handler_retry", 1);
  const retry = await sql`SELECT herald_fault('handler_retry')`.execute(database.db).catch((e: unknown) => e);
  assert.match((retry as Error).message, /RETRY_SERIALIZABLE/);
  assert.equal(classifyError(retry), "retry");
  let attempts = 0;
  await faults("handler_retry", 2);
  const { value } = await transact(database.db, async (tx) => {
    attempts++;
    await sql`SELECT herald_fault('handler_retry')`.execute(tx);
    return "done";
  }, { policy: { baseDelayMs: 1 } });
  assert.equal(value, "done");
  assert.equal(attempts, 3, "two CockroachDB retry errors, then success");
  assert.equal(classifyError(Object.assign(new Error(AMBIGUOUS_MESSAGE), { code: "40003" })), "ambiguous");
});

test("lone command: a retry error in the handler restarts the whole transaction, never rolls back to the savepoint", async () => {
  const d = dispatcher(1);
  const key = uniqueKey();
  const before = await counter(1);
  await faults("handler_retry", 1);
  const log = openStatementLog();
  let reply;
  try {
    reply = await send(d, { id: 1, fault: "retry" }, key);
  } finally {
    log.close();
  }
  assert.equal(reply.reply.status, "committed", JSON.stringify(reply.reply));
  assert.equal(reply.attempts, 2);
  const statements = log.texts.flatMap(splitStatements);
  assert.ok(!statements.some((s) => /ROLLBACK TO SAVEPOINT/i.test(s)), `CockroachDB cannot roll back a retry error to an ordinary savepoint: ${statements.join(" | ")}`);
  assert.equal(statements.filter((s) => s === "ROLLBACK").length, 1, "the failed attempt rolled back as a whole");
  assert.equal(await counter(1), before + 1, "applied once");
  assert.equal(await stored(key), 1);
});

test("lone command: RETRY_SERIALIZABLE at COMMIT is retried; the command is stored once", async () => {
  const d = dispatcher(1);
  const key = uniqueKey();
  const before = await counter(2);
  await faults("commit_retry", 1);
  const reply = await send(d, { id: 2 }, key);
  assert.equal(reply.reply.status, "committed");
  assert.equal(reply.attempts, 2);
  assert.equal(await counter(2), before + 1);
  assert.equal(await stored(key), 1);
});

test("lone command: 'result is ambiguous' (40003) at COMMIT re-reads the key and, finding nothing, runs again", async () => {
  const d = dispatcher(1);
  const key = uniqueKey();
  const before = await counter(3);
  await faults("commit_ambiguous", 1);
  const reply = await send(d, { id: 3 }, key);
  assert.equal(reply.reply.status, "committed", JSON.stringify(reply.reply));
  assert.equal(d.stats.ambiguous, 1, "the ambiguous path was taken");
  assert.equal(await counter(3), before + 1, "applied once");
  assert.equal(await stored(key), 1);
});

test("group commit: a retry error from one handler aborts the batch; every command commits once in a later batch", async () => {
  const d = dispatcher(16);
  const before = await counter(4);
  await faults("handler_retry", 1);
  const bodies = [{ id: 4 }, { id: 4 }, { id: 4, fault: "retry" }, { id: 4 }, { id: 4 }, { id: 4 }];
  const keys = bodies.map(() => uniqueKey());
  const results = await Promise.all(bodies.map((b, i) => send(d, b, keys[i])));
  assert.ok(results.every((r) => r.reply.status === "committed"), JSON.stringify(results.map((r) => r.reply)));
  assert.ok(d.stats.retries >= 1, "the batch failed and was retried");
  assert.equal(await counter(4), before + bodies.length);
  for (const key of keys) assert.equal(await stored(key), 1);
});

test("group commit: RETRY_SERIALIZABLE and 'result is ambiguous' at the batch's COMMIT; each command commits once", async () => {
  const d = dispatcher(16);
  const before = await counter(5);
  await faults("commit_retry", 1);
  await faults("commit_ambiguous", 1);
  const keys = Array.from({ length: 8 }, () => uniqueKey());
  const results = await Promise.all(keys.map((k) => send(d, { id: 5 }, k)));
  assert.ok(results.every((r) => r.reply.status === "committed"), JSON.stringify(results.map((r) => r.reply)));
  assert.equal(await counter(5), before + keys.length);
  for (const key of keys) assert.equal(await stored(key), 1);
  assert.ok(d.stats.ambiguous >= 1, "the ambiguous COMMIT was resolved by re-reading keys");
});

test("group commit: a permanent handler error still isolates to its one command", async () => {
  const d = dispatcher(16);
  const before = await counter(6);
  const bodies = [{ id: 6 }, { id: 6 }, { id: 6, fault: "bug" }, { id: 6 }, { id: 6 }];
  const keys = bodies.map(() => uniqueKey());
  const results = await Promise.all(bodies.map((b, i) => send(d, b, keys[i])));
  const statuses = results.map((r) => r.reply.status);
  assert.deepEqual(statuses.filter((_, i) => i !== 2), ["committed", "committed", "committed", "committed"]);
  assert.equal(statuses[2], "error", JSON.stringify(results[2]!.reply));
  assert.equal(await counter(6), before + 4);
  assert.equal(await stored(keys[2]!), 0, "nothing of the failed command is stored");
});

test("an unexpected error at COMMIT (a deferred check) is resolved by re-reading the key, as 40003 is: lone and group commit each commit once", async () => {
  const lone = dispatcher(1);
  const key = uniqueKey();
  const before = await counter(7);
  await faults("commit_bug", 1);
  const reply = await send(lone, { id: 7 }, key);
  assert.equal(reply.reply.status, "committed", JSON.stringify(reply.reply));
  assert.equal(lone.stats.ambiguous, 1, "the COMMIT error took the ambiguous path, not `internal`");
  assert.equal(await counter(7), before + 1);
  assert.equal(await stored(key), 1);

  const group = dispatcher(16);
  await faults("commit_bug", 1);
  const keys = Array.from({ length: 8 }, () => uniqueKey());
  const results = await Promise.all(keys.map((k) => send(group, { id: 7 }, k)));
  assert.ok(results.every((r) => r.reply.status === "committed"), JSON.stringify(results.map((r) => r.reply)));
  assert.ok(group.stats.ambiguous >= 1, "the batch's COMMIT error was resolved by re-reading keys");
  assert.equal(await counter(7), before + 1 + keys.length);
  for (const k of keys) assert.equal(await stored(k), 1);
});

test("a COMMIT that keeps failing: the key proves nothing committed, and the answer is `internal`, stored nowhere", async () => {
  const d = dispatcher(1);
  const key = uniqueKey();
  const before = await counter(8);
  await faults("commit_bug", 100);
  try {
    const reply = await send(d, { id: 8 }, key);
    assert.equal(reply.reply.status === "error" && reply.reply.error.code, "internal", JSON.stringify(reply.reply));
    assert.ok(d.stats.ambiguous >= 1);
  } finally {
    await faults("commit_bug", 0);
  }
  assert.equal(await counter(8), before);
  assert.equal(await stored(key), 0);
});

for (const dialect of ["postgresql", "cockroachdb"] as const) {
  test(`${dialect}: a batch's lock timeout is the dialect's (${BATCH_LOCK_TIMEOUT_MS[dialect]} ms); a lock held 300 ms ${dialect === "cockroachdb" ? "is waited out by the batch" : "times the batch out and requeues it"}`, async () => {
    const d = dispatcher(16, dialect);
    const before = await counter(9);
    // A rival holds row 9 for 300 ms: longer than PostgreSQL's batch lock timeout, shorter than CockroachDB's.
    const rival = await database.db.startTransaction().execute();
    await sql`SELECT n FROM counters WHERE id = 9 FOR UPDATE`.execute(rival);
    const log = openStatementLog();
    let results;
    try {
      // The first request starts alone at once (another row); the three queued behind it share a batch on row 9.
      const first = send(d, { id: 8 });
      const batched = [send(d, { id: 9 }), send(d, { id: 9 }), send(d, { id: 9 })];
      await first;
      await new Promise((resolve) => setTimeout(resolve, 300));
      await rival.commit().execute();
      results = await Promise.all(batched);
    } finally {
      log.close();
    }
    assert.ok(results.every((r) => r.reply.status === "committed"), JSON.stringify(results.map((r) => r.reply)));
    assert.equal(await counter(9), before + 3);
    const statements = log.texts.flatMap(splitStatements);
    assert.ok(statements.includes(`SET LOCAL lock_timeout = '${BATCH_LOCK_TIMEOUT_MS[dialect]}ms'`), statements.filter((x) => /lock_timeout/.test(x)).join(" | "));
    if (dialect === "cockroachdb") {
      assert.equal(d.stats.retries, 0, "the batch waited for the lock instead of timing out");
      assert.equal(d.stats.batches, 1, "the three committed in one batch");
    } else {
      assert.ok(d.stats.retries >= 1, "the batch timed out on the lock (55P03) and went back to the queue");
    }
  });
}
