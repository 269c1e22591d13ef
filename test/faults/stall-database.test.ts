import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { DEADLINE_ANSWER_BOUND_MS } from "../../src/commands/command-deadline.js";
import { poolUsage, type Database } from "../../src/db/connection.js";
import type { Worker } from "../../src/worker/worker.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { uniqueKey } from "../kit/names.js";
import { connectThroughProxy, type ProxiedDatabase } from "../kit/proxied-database.js";
import type { TcpProxy } from "../kit/tcp-proxy.js";
import { waitFor } from "../kit/wait.js";

// A worker whose database stops answering (a partition, a range without a
// lease): every statement is bounded, so requests get 503 `unavailable` instead
// of hanging, nothing is lost or doubled, and the worker recovers by itself.
const STATEMENT_MS = 400;
const DEADLINE_MS = 1200;
/** Every request is answered by its deadline, counted from arrival, plus the documented bound. */
const ANSWER_BOUND_MS = DEADLINE_MS + DEADLINE_ANSWER_BOUND_MS;

let h: Harness;
let proxy: TcpProxy;
let proxied: Database;
let through: ProxiedDatabase;
let worker: Worker;

before(async () => {
  h = await createHarness();
  through = await connectThroughProxy(h.database.url, {
    poolMax: 4,
    timeouts: { statementTimeoutMs: STATEMENT_MS, lockTimeoutMs: 200, idleInTransactionTimeoutMs: 2000 },
  });
  ({ proxy, database: proxied } = through);
  worker = await h.startWorker({ db: proxied.db, retry: { deadlineMs: DEADLINE_MS }, maxConcurrentTransactions: 4, prune: false });
  assert.equal((await h.send("open_account", { accountId: "st_1", owner: "Ada", initialBalance: 0 })).body.status, "committed");
});

after(async () => {
  proxy?.resume();
  await Promise.allSettled(h.workers.map((w) => w.stop()));
  await through?.close();
  await h?.close();
});

const atRest = () => {
  const usage = poolUsage(proxied.pool);
  return (usage.inUse === 0 && usage.waiting === 0 && worker.service.inFlight() === 0) || undefined;
};

const balance = async (id: string) =>
  Number((await sql<{ balance: number }>`SELECT balance FROM bank_accounts WHERE id = ${id}`.execute(h.database.db)).rows[0]?.balance);

test("while the database stalls requests get 503 within the deadline; after it the worker recovers and retries apply once", async (t) => {
  const keys = [1, 2, 3, 4, 5, 6].map(() => uniqueKey());
  proxy.stall();
  const started = Date.now();
  const replies = await Promise.all(
    keys.map(async (key, i) => {
      const r = await h.send("deposit", { accountId: "st_1", amount: i + 1 }, { key, timeoutMs: 20_000 });
      return { ...r, ms: Date.now() - started };
    }),
  );
  for (const r of replies) {
    assert.equal(r.body.error?.code, "unavailable", JSON.stringify(r.body));
    assert.equal(r.errorCode, "503");
    assert.ok(r.ms <= ANSWER_BOUND_MS, `answered after ${r.ms} ms, bound ${ANSWER_BOUND_MS} ms`);
  }
  t.diagnostic(`503s answered after ${Math.min(...replies.map((r) => r.ms))}-${Math.max(...replies.map((r) => r.ms))} ms`);
  proxy.resume();

  // Recovery on its own: every slot and connection given back, nothing left running.
  await waitFor(atRest, { what: "pool and in-flight counts back to zero" });
  const fresh = await h.send("deposit", { accountId: "st_1", amount: 100 });
  assert.equal(fresh.body.status, "committed", JSON.stringify(fresh.body));

  // Clients retry with the same keys: each deposit is applied exactly once.
  for (const [i, key] of keys.entries()) {
    const again = await h.send("deposit", { accountId: "st_1", amount: i + 1 }, { key });
    assert.equal(again.body.status, "committed", JSON.stringify(again.body));
  }
  assert.equal(await balance("st_1"), 100 + 21);
  const stored = await sql<{ n: number }>`SELECT count(*)::INT AS n FROM herald_commands WHERE idempotency_key IN (${sql.join(keys)})`.execute(h.database.db);
  assert.equal(stored.rows[0]!.n, keys.length);
  await waitFor(async () => {
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::INT AS n FROM herald_outbox o JOIN herald_commands c ON c.id = o.command_id
      WHERE c.idempotency_key IN (${sql.join(keys)}) AND o.published_at IS NOT NULL`.execute(h.database.db);
    return rows[0]!.n === keys.length || undefined;
  }, { what: "one published event per deposit" });
  await waitFor(atRest, { what: "at rest again" });
});

test("a COMMIT that outlives the statement timeout is ambiguous: the worker re-reads the key and commits once", async () => {
  // A deferred trigger makes COMMIT itself slow (longer than the client's bound,
  // shorter than the server's): the commit happens, its answer comes too late.
  await sql`CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.owner IN ('slow', 'stalled') THEN PERFORM pg_sleep(${sql.lit((STATEMENT_MS * 2) / 1000)}); END IF; RETURN NULL; END $$`.execute(h.database.db);
  await sql`CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON bank_accounts DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION slow_commit()`.execute(h.database.db);
  const ambiguousBefore = worker.stats.ambiguous;
  const key = uniqueKey();
  const r = await h.send("open_account", { accountId: "st_slow", owner: "slow", initialBalance: 7 }, { key, timeoutMs: 20_000 });
  assert.equal(r.body.status, "committed", JSON.stringify(r.body));
  assert.ok(worker.stats.ambiguous > ambiguousBefore, "the timed-out COMMIT took the ambiguous path");
  const commands = await sql<{ id: string }>`SELECT id FROM herald_commands WHERE idempotency_key = ${key}`.execute(h.database.db);
  assert.equal(commands.rows.length, 1);
  assert.equal(commands.rows[0]!.id, r.body.commandId);
  assert.equal(await balance("st_slow"), 7);
  const events = await sql<{ n: number }>`SELECT count(*)::INT AS n FROM herald_outbox WHERE command_id = ${r.body.commandId}`.execute(h.database.db);
  assert.equal(events.rows[0]!.n, 1);
  await waitFor(atRest, { what: "at rest after the ambiguous commit" });
});

test("a COMMIT whose answer the stall holds past the deadline is answered unknown_outcome in time; the retry with its key learns it committed once", async () => {
  const key = uniqueKey();
  const sent = Date.now();
  const pending = h.send("open_account", { accountId: "st_stalled", owner: "stalled", initialBalance: 5 }, { key, timeoutMs: 20_000 });
  // The deferred trigger sleeps at COMMIT (only there does this database sleep); the stall then swallows its answer and every re-read.
  await waitFor(async () => {
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::INT AS n FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database() AND wait_event = 'PgSleep'`.execute(h.database.db);
    return rows[0]!.n > 0 || undefined;
  }, { what: "the COMMIT running on the server", intervalMs: 5 });
  proxy.stall();
  const r = await pending;
  const ms = Date.now() - sent;
  proxy.resume();
  assert.equal(r.body.error?.code, "unknown_outcome", JSON.stringify(r.body));
  assert.equal(r.errorCode, "503");
  assert.ok(ms <= ANSWER_BOUND_MS, `answered after ${ms} ms, bound ${ANSWER_BOUND_MS} ms`);
  await waitFor(atRest, { what: "at rest after the stalled COMMIT" });
  const again = await h.send("open_account", { accountId: "st_stalled", owner: "stalled", initialBalance: 5 }, { key });
  assert.equal(again.body.status, "committed", JSON.stringify(again.body));
  assert.equal(again.body.duplicate, true, "the first attempt's COMMIT had landed");
  assert.equal(await balance("st_stalled"), 5);
  const commands = await sql<{ n: number }>`SELECT count(*)::INT AS n FROM herald_commands WHERE idempotency_key = ${key}`.execute(h.database.db);
  assert.equal(commands.rows[0]!.n, 1);
});
