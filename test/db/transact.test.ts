import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql, type Kysely } from "kysely";
import { connectDatabase, type Database } from "../../src/db/connection.js";
import { classifyError, findSqlState } from "../../src/db/sqlstate.js";
import { DEADLINE_ANSWER_BOUND_MS } from "../../src/commands/command-deadline.js";
import { transact } from "../../src/db/transact.js";
import { AmbiguousCommitError, RetriesExhaustedError } from "../../src/errors.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";

let database: TestDatabase<any>;
let single: Database<any>;

before(async () => {
  database = await createTestDatabase();
  await sql`CREATE TABLE cells (id INT PRIMARY KEY, v INT NOT NULL)`.execute(database.db);
  // A pool of one connection: a leaked connection would hang the next transaction.
  single = await connectDatabase({ url: database.url, poolMax: 1 });
});
after(async () => {
  await single.destroy();
  await database.drop();
});

const reset = () => sql`DELETE FROM cells; INSERT INTO cells VALUES (1, 0), (2, 0)`.execute(database.db);

/** Write skew with another transaction that commits first: this one must fail serialization. */
async function conflictingPeer(db: Kysely<any>): Promise<void> {
  const peer = await db.startTransaction().setIsolationLevel("serializable").execute();
  await sql`SELECT v FROM cells WHERE id = 2`.execute(peer);
  await sql`UPDATE cells SET v = v + 100 WHERE id = 1`.execute(peer);
  await peer.commit().execute();
}

test("a serialization failure is retried and the retry is reported", async () => {
  await reset();
  const retries: Array<{ attempt: number; sqlState?: string }> = [];
  const result = await transact(
    single.db,
    async (tx, attempt) => {
      await sql`SELECT v FROM cells WHERE id = 1`.execute(tx);
      await sql`UPDATE cells SET v = v + 1 WHERE id = 2`.execute(tx);
      if (attempt === 1) await conflictingPeer(database.db);
      return attempt;
    },
    { onRetry: (e) => retries.push({ attempt: e.attempt, sqlState: e.sqlState }) },
  );
  assert.equal(result.value, 2);
  assert.equal(result.attempts, 2);
  assert.deepEqual(retries, [{ attempt: 1, sqlState: "40001" }]);
  const rows = (await sql<{ id: number; v: number }>`SELECT id, v FROM cells ORDER BY id`.execute(database.db)).rows;
  assert.deepEqual(rows, [{ id: 1, v: 100 }, { id: 2, v: 1 }], "exactly one effect of the retried transaction");
  // The pool of one is still usable: failed COMMITs released their connection.
  assert.equal((await sql<{ one: number }>`SELECT 1 AS one`.execute(single.db)).rows[0]!.one, 1);
});

test("retries stop at maxAttempts with RetriesExhaustedError carrying the SQLSTATE", async () => {
  await reset();
  await assert.rejects(
    transact(
      single.db,
      async (tx) => {
        await sql`SELECT v FROM cells WHERE id = 1`.execute(tx);
        await sql`UPDATE cells SET v = v + 1 WHERE id = 2`.execute(tx);
        await conflictingPeer(database.db);
      },
      { policy: { maxAttempts: 3, baseDelayMs: 1 } },
    ),
    (err: unknown) => err instanceof RetriesExhaustedError && err.attempts === 3 && err.lastSqlState === "40001",
  );
  const rows = (await sql<{ v: number }>`SELECT v FROM cells WHERE id = 2`.execute(database.db)).rows;
  assert.equal(rows[0]!.v, 0, "nothing of the failed attempts was kept");
  assert.equal((await sql<{ one: number }>`SELECT 1 AS one`.execute(single.db)).rows[0]!.one, 1);
});

test("a non-retryable error rolls back and propagates after one attempt", async () => {
  await reset();
  let attempts = 0;
  await assert.rejects(
    transact(single.db, async (tx) => {
      attempts++;
      await sql`UPDATE cells SET v = 5 WHERE id = 1`.execute(tx);
      await sql`INSERT INTO cells VALUES (1, 1)`.execute(tx); // unique violation
    }),
    (err: unknown) => findSqlState(err) === "23505",
  );
  assert.equal(attempts, 1);
  const rows = (await sql<{ v: number }>`SELECT v FROM cells WHERE id = 1`.execute(database.db)).rows;
  assert.equal(rows[0]!.v, 0);
});

test("the deadline bounds retries even when attempts remain", async () => {
  await reset();
  const started = Date.now();
  await assert.rejects(
    transact(
      single.db,
      async () => {
        throw Object.assign(new Error("synthetic"), { code: "40001" });
      },
      { policy: { maxAttempts: 1_000_000, deadlineMs: 200, baseDelayMs: 5, maxDelayMs: 20 } },
    ),
    RetriesExhaustedError,
  );
  // No retry starts (nor sleeps) past the deadline: what is left is the last attempt, well within the bound.
  const elapsed = Date.now() - started;
  assert.ok(elapsed <= 200 + DEADLINE_ANSWER_BOUND_MS, `gave up after ${elapsed} ms, bound ${200 + DEADLINE_ANSWER_BOUND_MS} ms`);
});

test("a deadline the caller already spent: the first attempt still runs, no retry follows it", async () => {
  let attempts = 0;
  await assert.rejects(
    transact(
      single.db,
      async () => {
        attempts++;
        throw Object.assign(new Error("synthetic"), { code: "40001" });
      },
      { policy: { maxAttempts: 20, deadlineMs: 60_000 }, deadlineAt: Date.now() - 1 },
    ),
    (err: unknown) => err instanceof RetriesExhaustedError && err.attempts === 1,
  );
  assert.equal(attempts, 1, "deadlineAt overrides the policy's budget");
});

test("SQLSTATEs are found through cause chains and classified", () => {
  const wrapped = new Error("outer", { cause: new Error("middle", { cause: Object.assign(new Error("inner"), { code: "40001" }) }) });
  assert.equal(findSqlState(wrapped), "40001");
  assert.equal(classifyError(wrapped), "retry");
  assert.equal(classifyError(Object.assign(new Error("x"), { code: "40P01" })), "retry");
  assert.equal(classifyError(Object.assign(new Error("x"), { code: "40003" })), "ambiguous");
  assert.equal(classifyError(Object.assign(new Error("x"), { code: "ECONNRESET" })), "connection");
  assert.equal(classifyError(Object.assign(new Error("x"), { code: "57P01" })), "connection");
  assert.equal(classifyError(Object.assign(new Error("x"), { code: "23505" })), "fatal");
  assert.equal(classifyError(new Error("Connection terminated unexpectedly")), "connection");
  assert.ok(new AmbiguousCommitError() instanceof Error);
});
