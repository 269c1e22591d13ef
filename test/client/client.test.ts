import assert from "node:assert/strict";
import { AsyncLocalStorage } from "node:async_hooks";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { Subscription } from "@nats-io/nats-core";
import { context, propagation, trace, ROOT_CONTEXT, TraceFlags, type Context, type ContextManager, type TextMapPropagator } from "@opentelemetry/api";
import { sql } from "kysely";
import { deposit, openAccount, transfer } from "../../examples/bank/index.js";
import { createClient, CommandRequestError, type HeraldClient, type RetryInfo } from "../../src/index.js";
import { spawnCli, type CliProcess } from "../kit/cli.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { uniqueDomain, uniqueKey } from "../kit/names.js";
import { waitFor } from "../kit/wait.js";

/**
 * The typed client against real workers: in-process ones for the reply shapes,
 * worker processes for retries across a paused worker, a killed one, and none.
 */

let h: Harness;
let client: HeraldClient;
/** Domains served by spawned workers; their streams are deleted at the end. */
const extraDomains: string[] = [];
const workers: CliProcess[] = [];

before(async () => {
  h = await createHarness();
  await h.startWorker();
  client = createClient(h.nc, { domain: h.domain, timeoutMs: 10_000 });
  for (const [accountId, initialBalance] of [["alice", 1000], ["bob", 0]] as const) {
    const r = await client.send(openAccount, { accountId, owner: accountId, initialBalance });
    assert.equal(r.status, "committed");
  }
});
after(async () => {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
  await Promise.allSettled(workers.map((w) => w.exited));
  const jsm = await jetstreamManager(h.nc);
  for (const d of extraDomains) await jsm.streams.delete(`${d.toUpperCase()}_EVENTS`).catch(() => undefined);
  await h.close();
});

const db = () => h.database.db;
const rowsWithKey = (key: string) => db().selectFrom("herald_commands").select(["id", "status"]).where("idempotency_key", "=", key).execute();
const balanceOf = async (id: string) => (await db().selectFrom("bank_accounts").select("balance").where("id", "=", id).executeTakeFirstOrThrow()).balance as number;
const lockWaiters = async () =>
  Number((await sql<{ n: number }>`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(db())).rows[0]!.n);

/** Starts `herald start` for a fresh domain on this file's database and waits for its ready line. */
async function startWorkerProcess(domain: string, env: Record<string, string> = {}): Promise<CliProcess> {
  if (!extraDomains.includes(domain)) extraDomains.push(domain);
  const w = spawnCli(["start", "--domain", domain], { env: { DATABASE_URL: h.database.url, LOG_LEVEL: "warn", ...env } });
  workers.push(w);
  await w.waitForLine(/herald worker ready/);
  return w;
}

async function stopWorkerProcess(w: CliProcess): Promise<void> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return;
  w.child.kill("SIGCONT");
  w.child.kill("SIGTERM");
  assert.equal(await w.stopped(20_000), 0, w.stderr());
}

/** Holds `FOR UPDATE` on an account row so a worker's write to it waits: a request kept in flight without sleeps. */
async function lockAccount(id: string): Promise<() => Promise<void>> {
  const conn = await h.database.pool.connect();
  await conn.query("BEGIN");
  await conn.query("SELECT balance FROM bank_accounts WHERE id = $1 FOR UPDATE", [id]);
  return async () => {
    await conn.query("COMMIT");
    conn.release();
  };
}

/** Counts requests on a domain's command subjects, to prove the client sent nothing. */
function spy(domain: string): { count(): number; sub: Subscription } {
  let n = 0;
  const sub = h.nc.subscribe(`${domain}.cmd.>`, { callback: () => void n++ });
  return { count: () => n, sub };
}

test("send resolves committed and rejected replies as a typed union", async () => {
  const r = await client.send(transfer, { from: "alice", to: "bob", amount: 100 });
  assert.equal(r.status, "committed");
  if (r.status !== "committed") return;
  assert.deepEqual(r.result, { from: "alice", to: "bob", amount: 100, fromBalance: 900, toBalance: 100 });
  assert.equal(r.duplicate, false);
  assert.match(r.idempotencyKey, /^[0-9a-f-]{36}$/, "a generated UUID key");
  assert.equal(r.events[0]?.subject, `${h.domain}.evt.transferred`);

  const key = uniqueKey();
  const rejected = await client.send(transfer, { from: "bob", to: "alice", amount: 1_000_000 }, { idempotencyKey: key });
  assert.equal(rejected.status, "rejected");
  if (rejected.status !== "rejected") return;
  assert.equal(rejected.error.code, "insufficient_funds");
  assert.equal(rejected.idempotencyKey, key);
  const again = await client.send(transfer, { from: "bob", to: "alice", amount: 1_000_000 }, { idempotencyKey: key });
  assert.equal(again.status, "rejected");
  assert.equal(again.duplicate, true);
  assert.equal(again.commandId, rejected.commandId);

  const raw = await client.sendRaw(`${h.domain}.cmd.deposit`, '{ "amount": 5, "accountId": "bob" }');
  assert.equal(raw.status, "committed");
  assert.deepEqual(raw.status === "committed" && raw.result, { accountId: "bob", balance: 105 });
  const byName = await client.sendRaw("deposit", { accountId: "bob", amount: 1 });
  assert.equal(byName.status, "committed");
});

test("error replies throw a typed CommandRequestError", async () => {
  const key = uniqueKey();
  await client.send(deposit, { accountId: "bob", amount: 2 }, { idempotencyKey: key });
  const reused = await client.send(deposit, { accountId: "bob", amount: 3 }, { idempotencyKey: key }).catch((e: unknown) => e);
  assert.ok(reused instanceof CommandRequestError, String(reused));
  assert.equal(reused.code, "idempotency_key_reused");
  assert.equal(reused.status, 409);
  assert.equal(reused.idempotencyKey, key);
  assert.equal(reused.attempts, 1, "a 409 is not retried");
  assert.equal(reused.retryable, false);

  const badJson = await client.sendRaw("deposit", '{"accountId":').catch((e: unknown) => e);
  assert.ok(badJson instanceof CommandRequestError);
  assert.equal(badJson.code, "invalid_json");
  assert.equal(badJson.status, 400);

  const unknown = await client.sendRaw("no_such_command", {}).catch((e: unknown) => e);
  assert.ok(unknown instanceof CommandRequestError);
  assert.equal(unknown.code, "unknown_command");
  assert.equal(unknown.status, 404);
  assert.deepEqual(unknown.toReply().error.code, "unknown_command");
});

test("input is validated locally with the worker's error shape, and nothing is sent", async () => {
  const body = { accountId: "bob", amount: 0, memo: "birthday" };
  // What the worker answers for this body...
  const remote = await client.sendRaw("deposit", body).catch((e: unknown) => e);
  assert.ok(remote instanceof CommandRequestError);
  assert.equal(remote.code, "invalid_command");

  // ...is what the client throws without sending it.
  const watch = spy(h.domain);
  try {
    const key = uniqueKey("local");
    const local = await client.send(deposit, body as never, { idempotencyKey: key }).catch((e: unknown) => e);
    assert.ok(local instanceof CommandRequestError);
    assert.equal(local.code, "invalid_command");
    assert.equal(local.status, 400);
    assert.equal(local.message, remote.message);
    assert.deepEqual(local.details, remote.details);
    assert.equal(local.attempts, 0);
    assert.equal(local.idempotencyKey, key);

    const sameAccount = await client.send(transfer, { from: "bob", to: "bob", amount: 1 }).catch((e: unknown) => e);
    assert.ok(sameAccount instanceof CommandRequestError);
    assert.deepEqual((sameAccount.details as Array<{ path: unknown }>).map((d) => d.path), [["to"]]);

    const badKey = await client.send(deposit, { accountId: "bob", amount: 1 }, { idempotencyKey: "has space" }).catch((e: unknown) => e);
    assert.ok(badKey instanceof CommandRequestError);
    assert.equal(badKey.code, "invalid_idempotency_key");

    await h.nc.flush();
    assert.equal(watch.count(), 0, "no request reached NATS");
    assert.deepEqual(await rowsWithKey(key), [], "no row written");
  } finally {
    watch.sub.unsubscribe();
  }
});

test("the active trace context travels in the request headers", async () => {
  // A minimal W3C propagator and context manager, standing in for an OpenTelemetry SDK.
  const storage = new AsyncLocalStorage<Context>();
  const manager: ContextManager = {
    active: () => storage.getStore() ?? ROOT_CONTEXT,
    with: (ctx, fn, thisArg, ...args) => storage.run(ctx, () => fn.call(thisArg, ...args)),
    bind: (_ctx, target) => target,
    enable() {
      return this;
    },
    disable() {
      return this;
    },
  };
  const w3c: TextMapPropagator = {
    inject(ctx, carrier, setter) {
      const sc = trace.getSpanContext(ctx);
      if (sc) setter.set(carrier, "traceparent", `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags}`);
    },
    extract: (ctx) => ctx,
    fields: () => ["traceparent"],
  };
  assert.ok(context.setGlobalContextManager(manager));
  assert.ok(propagation.setGlobalPropagator(w3c));
  try {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const spanId = "00f067aa0ba902b7";
    const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: false });
    const reply = await context.with(ctx, () => client.send(deposit, { accountId: "bob", amount: 1 }));
    const row = await db().selectFrom("herald_commands").select(["trace_id", "span_id"]).where("id", "=", reply.commandId).executeTakeFirstOrThrow();
    assert.deepEqual(row, { trace_id: traceId, span_id: spanId });
  } finally {
    propagation.disable();
    context.disable();
  }
});

test("retries that run out throw the last failure with the attempt count", async () => {
  const retried: RetryInfo[] = [];
  const err = await createClient(h.nc, { domain: uniqueDomain("none"), retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 }, onRetry: (i) => retried.push(i) })
    .send(deposit, { accountId: "bob", amount: 1 })
    .catch((e: unknown) => e);
  assert.ok(err instanceof CommandRequestError);
  assert.equal(err.code, "no_responders");
  assert.equal(err.status, 503);
  assert.equal(err.attempts, 3);
  assert.match(err.message, /gave up after 3 attempt/);
  assert.deepEqual(retried.map((r) => r.attempt), [1, 2]);
  assert.ok(retried.every((r) => r.idempotencyKey === err.idempotencyKey && r.error.code === "no_responders"));
});

test("a worker paused mid-request: the client retries on timeout with the same key; one effect, the first commandId", async () => {
  const domain = uniqueDomain("paus");
  const worker = await startWorkerProcess(domain);
  const retried: RetryInfo[] = [];
  const c = createClient(h.nc, { domain, timeoutMs: 400, retry: { attempts: 200, baseDelayMs: 10, maxDelayMs: 100 }, onRetry: (i) => retried.push(i) });
  assert.equal((await c.send(openAccount, { accountId: "paused_acc", owner: "P" })).status, "committed");
  try {
    const unlock = await lockAccount("paused_acc");
    const pending = c.send(deposit, { accountId: "paused_acc", amount: 7 });
    // The worker has claimed the key and waits on the row: the request is in flight.
    await waitFor(async () => (await lockWaiters()) >= 1, { what: "the deposit waiting on the row lock" });
    worker.child.kill("SIGSTOP");
    await unlock();
    await waitFor(() => retried.length >= 2, { what: "two timed-out attempts", timeoutMs: 30_000 });
    worker.child.kill("SIGCONT");
    const reply = await pending;

    assert.equal(reply.status, "committed");
    assert.ok(retried.every((r) => r.error.code === "timeout" && r.idempotencyKey === reply.idempotencyKey), "one key for every attempt");
    const rows = await rowsWithKey(reply.idempotencyKey);
    assert.equal(rows.length, 1);
    assert.equal(reply.commandId, rows[0]!.id, "the reply names the command the first attempt stored");
    assert.equal(await balanceOf("paused_acc"), 7, "exactly one effect");
    const events = await db().selectFrom("herald_outbox").select("id").where("command_id", "=", reply.commandId).execute();
    assert.equal(events.length, 1);
  } finally {
    await stopWorkerProcess(worker);
  }
});

test("a worker killed with requests in flight, another started: every request commits once", async () => {
  const domain = uniqueDomain("kill");
  // No group commit, so the held deposits are ten transactions waiting on the lock side by side.
  const first = await startWorkerProcess(domain, { HERALD_DB_POOL_MAX: "30", HERALD_MAX_BATCH_SIZE: "1" });
  const retried = new Set<string>();
  const c = createClient(h.nc, { domain, timeoutMs: 1000, retry: { attempts: 1000, baseDelayMs: 10, maxDelayMs: 100 }, onRetry: (i) => retried.add(i.idempotencyKey) });
  for (const accountId of ["kill_hot", "kill_cold"]) assert.equal((await c.send(openAccount, { accountId, owner: accountId })).status, "committed");

  let second: CliProcess | undefined;
  try {
    const unlock = await lockAccount("kill_hot");
    const hot = Array.from({ length: 10 }, (_, i) => c.send(deposit, { accountId: "kill_hot", amount: i + 1 }));
    const cold = Array.from({ length: 10 }, (_, i) => c.send(deposit, { accountId: "kill_cold", amount: 100 * (i + 1) }));
    await waitFor(async () => (await lockWaiters()) >= 10, { what: "10 deposits waiting on the row lock", timeoutMs: 30_000 });
    first.child.kill("SIGKILL");
    await first.exited;
    // The dead worker's transactions abort once their statements return to a closed socket.
    await unlock();
    second = await startWorkerProcess(domain);
    const replies = await Promise.all([...hot, ...cold]);

    assert.deepEqual(replies.filter((r) => r.status !== "committed"), []);
    for (const reply of replies) {
      const rows = await rowsWithKey(reply.idempotencyKey);
      assert.equal(rows.length, 1, `one command for ${reply.idempotencyKey}`);
      assert.equal(rows[0]!.id, reply.commandId);
      assert.equal(rows[0]!.status, "committed");
    }
    assert.equal(await balanceOf("kill_hot"), 55, "1 + 2 + … + 10, each once");
    assert.equal(await balanceOf("kill_cold"), 5500);
    for (const reply of replies.slice(0, 10)) assert.ok(retried.has(reply.idempotencyKey), "the held requests were retried with their key");
  } finally {
    if (second) await stopWorkerProcess(second);
  }
});

test("no worker yet: the client retries through no responders until one starts", async () => {
  const domain = uniqueDomain("late");
  extraDomains.push(domain);
  const retried: RetryInfo[] = [];
  const c = createClient(h.nc, { domain, retry: { attempts: 1000, baseDelayMs: 10, maxDelayMs: 100 }, onRetry: (i) => retried.push(i) });
  const pending = c.send(openAccount, { accountId: "late_acc", owner: "Late", initialBalance: 3 });
  await waitFor(() => retried.length >= 1, { what: "a no-responders retry" });
  const worker = await startWorkerProcess(domain);
  try {
    const reply = await pending;
    assert.equal(reply.status, "committed");
    assert.equal(reply.duplicate, false);
    assert.ok(retried.every((r) => r.error.code === "no_responders" && r.idempotencyKey === reply.idempotencyKey));
    assert.equal((await rowsWithKey(reply.idempotencyKey)).length, 1);
    assert.equal(await balanceOf("late_acc"), 3);
  } finally {
    await stopWorkerProcess(worker);
  }
});
