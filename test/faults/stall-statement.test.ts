import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { connectDatabase, poolUsage, type Database } from "../../src/db/connection.js";
import { classifyError, isConnectionError } from "../../src/db/sqlstate.js";
import { sessionTimeoutStatement, StatementTimeoutError } from "../../src/db/statement-deadline.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";

// The statement deadline on its own, without a proxy: a statement the server
// takes too long on fails in bounded time, its connection is dropped, and the
// error reads as a lost connection (retried, or ambiguous at COMMIT).
let base: TestDatabase<any>;
let bounded: Database;

before(async () => {
  base = await createTestDatabase({ poolMax: 2 });
  bounded = await connectDatabase({ url: base.url, poolMax: 2, timeouts: { statementTimeoutMs: 300, lockTimeoutMs: 150, idleInTransactionTimeoutMs: 4000 } });
});
after(async () => {
  await bounded?.destroy();
  await base?.drop();
});

test("each new connection carries the server-side bounds", async () => {
  const show = async (name: string) => (await sql<Record<string, string>>`SHOW ${sql.raw(name)}`.execute(bounded.db)).rows[0]![name];
  assert.equal(await show("statement_timeout"), "1300ms");
  assert.equal(await show("lock_timeout"), "150ms");
  assert.equal(await show("idle_in_transaction_session_timeout"), "4s");
  assert.equal(sessionTimeoutStatement({ statementTimeoutMs: 0, lockTimeoutMs: 0, idleInTransactionTimeoutMs: 0 }), undefined);
});

test("a statement past the deadline fails with StatementTimeoutError, classified as a lost connection, and its connection is dropped", async () => {
  const before = bounded.pool.totalCount;
  const pid = Number((await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(bounded.db)).rows[0]!.pid);
  const started = Date.now();
  const err = await sql`SELECT pg_sleep(1)`.execute(bounded.db).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof StatementTimeoutError, String(err));
  assert.ok(Date.now() - started < 1000, "failed before the statement would have finished");
  assert.equal(err.timeoutMs, 300);
  assert.ok(isConnectionError(err));
  assert.equal(classifyError(err), "connection");
  // The pool dropped the connection; the next statement gets a fresh one.
  assert.ok(bounded.pool.totalCount <= before);
  const next = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(bounded.db);
  assert.notEqual(Number(next.rows[0]!.pid), pid);
  assert.equal(poolUsage(bounded.pool).inUse, 0);
});

test("a lock wait past lock_timeout fails with the retryable 55P03, not a timeout", async () => {
  await sql`CREATE TABLE locked (id INT PRIMARY KEY)`.execute(base.db);
  await sql`INSERT INTO locked VALUES (1)`.execute(base.db);
  const holder = await base.pool.connect();
  try {
    await holder.query("BEGIN");
    await holder.query("SELECT * FROM locked WHERE id = 1 FOR UPDATE");
    const err = await sql`UPDATE locked SET id = 1 WHERE id = 1`.execute(bounded.db).then(() => undefined, (e: unknown) => e);
    assert.equal((err as { code?: string }).code, "55P03", String(err));
    assert.equal(classifyError(err), "retry");
  } finally {
    await holder.query("ROLLBACK");
    holder.release();
  }
});
