import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { AbortedTransactionError, sql } from "kysely";
import { beginStatement } from "../../src/db/pg-driver.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";

/** Herald's pg driver sends BEGIN with a transaction's first statement when it can. */
let database: TestDatabase<any>;
const sent: string[] = [];
/** For each message sent: how many earlier ones were still unanswered (> 0: it was pipelined). */
const inFlightAtSend: number[] = [];
let unanswered = 0;

before(async () => {
  database = await createTestDatabase({ poolMax: 1 });
  await sql`CREATE TABLE t (id INT PRIMARY KEY)`.execute(database.db);
  // Records each message sent to the server (one query call is one round trip).
  database.pool.on("acquire", (client) => {
    const c = client as typeof client & { recorded?: boolean };
    if (c.recorded) return;
    c.recorded = true;
    const query = c.query.bind(c) as (...args: unknown[]) => unknown;
    (c as { query: unknown }).query = (text: unknown, ...rest: unknown[]) => {
      sent.push(typeof text === "string" ? text : String((text as { text?: string }).text));
      inFlightAtSend.push(unanswered++);
      const answer = query(text, ...rest) as Promise<unknown> | { once(event: string, listener: () => void): void };
      // A query object (the driver's statement sent with COMMIT) is answered by its "end".
      if ("then" in answer) {
        void answer.then(
          () => unanswered--,
          () => unanswered--,
        );
      } else answer.once("end", () => unanswered--);
      return answer;
    };
  });
});
after(() => database.drop());

const record = async (run: () => Promise<unknown>): Promise<string[]> => {
  sent.length = 0;
  inFlightAtSend.length = 0;
  unanswered = 0;
  await run();
  return [...sent];
};

test("BEGIN goes out with a first statement that has no parameters, in one message", async () => {
  let level = "";
  const messages = await record(async () => {
    const tx = await database.db.startTransaction().setIsolationLevel("serializable").execute();
    level = (await sql<{ transaction_isolation: string }>`SHOW transaction_isolation`.execute(tx)).rows[0]!.transaction_isolation;
    await tx.commit().execute();
  });
  assert.equal(level, "serializable");
  assert.deepEqual(messages, ["START TRANSACTION ISOLATION LEVEL SERIALIZABLE; SHOW transaction_isolation", "COMMIT"]);
});

test("a first statement with parameters is pipelined behind BEGIN, and the isolation level holds", async () => {
  let level = "";
  const messages = await record(async () => {
    const tx = await database.db.startTransaction().setIsolationLevel("serializable").execute();
    await sql`INSERT INTO t VALUES (${1})`.execute(tx);
    level = (await sql<{ l: string }>`SELECT current_setting(${"transaction_isolation"}) AS l`.execute(tx)).rows[0]!.l;
    await tx.commit().execute();
  });
  assert.equal(level, "serializable");
  assert.equal(messages.length, 4);
  assert.equal(messages[0], "START TRANSACTION ISOLATION LEVEL SERIALIZABLE");
  assert.deepEqual(inFlightAtSend, [0, 1, 0, 0], "the INSERT left before BEGIN's answer came back; the rest waited for theirs");
  assert.equal((await sql<{ id: number }>`SELECT id FROM t`.execute(database.db)).rows.length, 1);
});

test("the merged first statement's own result comes back", async () => {
  const tx = await database.db.startTransaction().execute();
  const { rows } = await sql<{ x: number }>`SELECT 41 + 1 AS x`.execute(tx);
  await tx.rollback().execute();
  assert.deepEqual(rows, [{ x: 42 }]);
});

test("rollback undoes what the merged statement wrote", async () => {
  const tx = await database.db.startTransaction().execute();
  await sql`INSERT INTO t VALUES (2)`.execute(tx);
  await tx.rollback().execute();
  const { rows } = await sql<{ id: number }>`SELECT id FROM t WHERE id = 2`.execute(database.db);
  assert.deepEqual(rows, []);
});

test("a transaction that runs nothing sends nothing", async () => {
  const messages = await record(async () => {
    const a = await database.db.startTransaction().execute();
    await a.commit().execute();
    const b = await database.db.startTransaction().execute();
    await b.rollback().execute();
  });
  assert.deepEqual(messages, []);
});

test("COMMIT of a transaction an error aborted throws AbortedTransactionError", async () => {
  const tx = await database.db.startTransaction().execute();
  await sql`SAVEPOINT s`.execute(tx);
  await assert.rejects(sql`INSERT INTO t VALUES (${"not a number"})`.execute(tx));
  await assert.rejects(tx.commit().execute(), AbortedTransactionError);
  await tx.rollback().execute().catch(() => undefined);
  // The connection is usable again.
  const { rows } = await sql<{ one: number }>`SELECT 1 AS one`.execute(database.db);
  assert.deepEqual(rows, [{ one: 1 }]);
});

test("Kysely's savepoint API goes through the driver", async () => {
  const tx = await database.db.startTransaction().execute();
  await sql`INSERT INTO t VALUES (3)`.execute(tx);
  const sp = await tx.savepoint("before_four").execute();
  await sql`INSERT INTO t VALUES (4)`.execute(sp);
  await sp.rollbackToSavepoint("before_four").execute();
  await tx.commit().execute();
  const { rows } = await sql<{ id: number }>`SELECT id FROM t WHERE id IN (3, 4) ORDER BY id`.execute(database.db);
  assert.deepEqual(rows, [{ id: 3 }]);
});

test("beginStatement spells out isolation and access mode", () => {
  assert.equal(beginStatement({}), "START TRANSACTION");
  assert.equal(beginStatement({ isolationLevel: "serializable", accessMode: "read only" }), "START TRANSACTION ISOLATION LEVEL SERIALIZABLE READ ONLY");
});

test("a message that ends in COMMIT ends the transaction: the commit after it sends nothing", async () => {
  let rows: unknown[] = [];
  const messages = await record(async () => {
    const tx = await database.db.startTransaction().execute();
    await sql`SAVEPOINT s`.execute(tx);
    rows = (await sql.raw("INSERT INTO t VALUES (5) RETURNING id; COMMIT").execute(tx)).rows;
    await tx.commit().execute();
  });
  assert.deepEqual(rows, [{ id: 5 }], "the statement's own rows, not COMMIT's");
  assert.deepEqual(messages, ["START TRANSACTION; SAVEPOINT s; INSERT INTO t VALUES (5) RETURNING id; COMMIT"], "BEGIN, the savepoint, the statement and COMMIT in one message");
  const { rows: stored } = await sql<{ id: number }>`SELECT id FROM t WHERE id = 5`.execute(database.db);
  assert.deepEqual(stored, [{ id: 5 }]);
});

test("a failing statement skips the COMMIT behind it; the transaction rolls back to its savepoint and goes on", async () => {
  const tx = await database.db.startTransaction().execute();
  await sql`SAVEPOINT s`.execute(tx);
  await sql`INSERT INTO t VALUES (6)`.execute(tx);
  await assert.rejects(sql.raw("INSERT INTO t VALUES (6); COMMIT").execute(tx), /duplicate key/);
  await sql`ROLLBACK TO SAVEPOINT s`.execute(tx);
  await sql`INSERT INTO t VALUES (7)`.execute(tx);
  await tx.commit().execute();
  const { rows } = await sql<{ id: number }>`SELECT id FROM t WHERE id IN (6, 7) ORDER BY id`.execute(database.db);
  assert.deepEqual(rows, [{ id: 7 }]);
});

test("a statement that runs again and again becomes a prepared statement of the connection", async () => {
  const text = "select id from t where id = $1";
  for (let i = 0; i < 4; i++) await sql`select id from t where id = ${i}`.execute(database.db);
  const { rows } = await sql<{ statement: string }>`SELECT statement FROM pg_prepared_statements`.execute(database.db);
  assert.ok(
    rows.some((r) => r.statement === text),
    `prepared: ${JSON.stringify(rows)}`,
  );
  // Its results are still right.
  const { rows: found } = await sql<{ id: number }>`select id from t where id = ${3}`.execute(database.db);
  assert.deepEqual(found, [{ id: 3 }]);
});

test("a savepoint set first waits with BEGIN, and the next statement with parameters is pipelined behind both; rolling back to it works", async () => {
  const messages = await record(async () => {
    const tx = await database.db.startTransaction().setIsolationLevel("serializable").execute();
    await sql`SAVEPOINT herald_handler`.execute(tx);
    await sql`INSERT INTO t VALUES (${70})`.execute(tx);
    await sql`ROLLBACK TO SAVEPOINT herald_handler`.execute(tx);
    await sql`INSERT INTO t VALUES (${71})`.execute(tx);
    await tx.commit().execute();
  });
  assert.equal(messages[0], "START TRANSACTION ISOLATION LEVEL SERIALIZABLE; SAVEPOINT herald_handler");
  assert.deepEqual(inFlightAtSend.slice(0, 2), [0, 1], "the INSERT left before the answer to BEGIN and the savepoint");
  const ids = (await sql<{ id: number }>`SELECT id FROM t WHERE id IN (70, 71) ORDER BY id`.execute(database.db)).rows.map((r) => r.id);
  assert.deepEqual(ids, [71], "the savepoint was set in the transaction: the first insert is undone");
});

test("a parameterized statement ending in COMMIT goes out with COMMIT in one exchange; the commit after it sends nothing", async () => {
  let rows: unknown[] = [];
  const messages = await record(async () => {
    const tx = await database.db.startTransaction().execute();
    await sql`SAVEPOINT s`.execute(tx);
    rows = (await sql`INSERT INTO t SELECT i FROM unnest(${[10, 11]}::INT[]) AS u (i) RETURNING id; COMMIT`.execute(tx)).rows;
    await tx.commit().execute();
  });
  assert.deepEqual(rows, [{ id: 10 }, { id: 11 }], "the statement's own rows, not COMMIT's");
  assert.deepEqual(messages, ["START TRANSACTION; SAVEPOINT s", "INSERT INTO t SELECT i FROM unnest($1::INT[]) AS u (i) RETURNING id"], "BEGIN with the savepoint, then the statement and COMMIT together");
  assert.deepEqual(inFlightAtSend, [0, 1], "pipelined behind BEGIN");
  const { rows: stored } = await sql<{ id: number }>`SELECT id FROM t WHERE id IN (10, 11) ORDER BY id`.execute(database.db);
  assert.deepEqual(stored, [{ id: 10 }, { id: 11 }], "committed");
});

test("a failing parameterized statement skips the COMMIT sent with it; the transaction rolls back to its savepoint and goes on", async () => {
  const tx = await database.db.startTransaction().execute();
  await sql`SAVEPOINT s`.execute(tx);
  await sql`INSERT INTO t VALUES (${12})`.execute(tx);
  await assert.rejects(sql`INSERT INTO t VALUES (${12}); COMMIT`.execute(tx), /duplicate key/);
  await sql`ROLLBACK TO SAVEPOINT s`.execute(tx);
  await sql`INSERT INTO t VALUES (${13})`.execute(tx);
  await tx.commit().execute();
  const { rows } = await sql<{ id: number }>`SELECT id FROM t WHERE id IN (12, 13) ORDER BY id`.execute(database.db);
  assert.deepEqual(rows, [{ id: 13 }]);
  // The connection is usable again.
  assert.deepEqual((await sql<{ one: number }>`SELECT 1 AS one`.execute(database.db)).rows, [{ one: 1 }]);
});

test("SET LOCAL right after BEGIN waits with it for the first statement, and holds in the transaction", async () => {
  let timeout = "";
  const messages = await record(async () => {
    const tx = await database.db.startTransaction().execute();
    await sql.raw("SET LOCAL lock_timeout = '123ms'").execute(tx);
    timeout = (await sql<{ t: string }>`SELECT current_setting(${"lock_timeout"}) AS t`.execute(tx)).rows[0]!.t;
    await tx.commit().execute();
  });
  assert.equal(timeout, "123ms");
  assert.equal(messages[0], "START TRANSACTION; SET LOCAL lock_timeout = '123ms'");
  assert.deepEqual(inFlightAtSend.slice(0, 2), [0, 1], "the statement left with them");
});
