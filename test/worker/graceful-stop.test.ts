import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { headers } from "@nats-io/nats-core";
import { sql } from "kysely";
import { bankApp } from "../../examples/bank/index.js";
import { createDispatcher } from "../../src/commands/dispatcher.js";
import { connectDatabase } from "../../src/db/connection.js";
import { startWorker } from "../../src/worker/worker.js";
import { stopGracefully } from "../../src/worker/graceful-stop.js";
import { spawnCli } from "../kit/cli.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { connectSharedNats } from "../kit/nats-server.js";
import { uniqueKey } from "../kit/names.js";
import { streamCount } from "../kit/stream.js";
import { startTcpProxy } from "../kit/tcp-proxy.js";

/**
 * `herald start` on SIGTERM stops taking requests, finishes those in flight,
 * flushes the outbox, drains NATS and closes the pool, all within
 * HERALD_SHUTDOWN_TIMEOUT_MS: under load and with an outbox backlog nothing
 * is lost, and a stop that cannot finish is cut at the timeout.
 */
const SHUTDOWN_TIMEOUT_MS = 8000;
/** A timer's lateness, as for command deadlines. */
const TIMER_SLACK_MS = 250;
const BACKLOG = 500;

let h: Harness;
before(async () => {
  h = await createHarness();
});
after(() => h?.close());

const encoder = new TextEncoder();
const unpublished = async () =>
  (await sql<{ n: number }>`SELECT count(*)::INT AS n FROM herald_outbox WHERE domain = ${h.domain} AND published_at IS NULL`.execute(h.database.db)).rows[0]!.n;
const events = async () => (await sql<{ n: number }>`SELECT count(*)::INT AS n FROM herald_outbox WHERE domain = ${h.domain}`.execute(h.database.db)).rows[0]!.n;

test("SIGTERM under load with an outbox backlog: in-flight requests answered, every event published once, exit 0 within the timeout", async (t) => {
  // The backlog: commands committed with nobody publishing their events.
  const quiet = createDispatcher({ db: h.database.db, domain: h.domain, commands: bankApp.commands });
  const send = (command: string, body: unknown) => quiet.dispatch({ command, body: encoder.encode(JSON.stringify(body)), idempotencyKey: uniqueKey() });
  assert.equal((await send("open_account", { accountId: "gs", owner: "gs", initialBalance: 0 })).reply.status, "committed");
  for (let i = 0; i < BACKLOG; i += 50) await Promise.all(Array.from({ length: 50 }, () => send("deposit", { accountId: "gs", amount: 1 })));
  assert.equal(await unpublished(), BACKLOG + 1);

  const worker = spawnCli(["start", "--domain", h.domain], {
    env: {
      DATABASE_URL: h.database.url,
      LOG_LEVEL: "warn",
      HERALD_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      // The relay's own passes leave the backlog alone: only the stop's flush publishes it.
      HERALD_OUTBOX_GRACE_MS: "3600000",
    },
  });
  await worker.waitForLine(/herald worker ready/);

  // Load: 16 senders, each waiting for its answer before the next request, until the worker is gone.
  let exited = false;
  void worker.exited.then(() => (exited = true));
  const committed = new Map<string, number>();
  const unanswered: Array<{ key: string; amount: number; code: string }> = [];
  let sent = 0;
  const sender = async () => {
    while (!exited) {
      const key = uniqueKey();
      const amount = 1 + (sent++ % 7);
      const hd = headers();
      hd.set("Idempotency-Key", key);
      try {
        const reply = (await h.nc.request(`${h.domain}.cmd.deposit`, JSON.stringify({ accountId: "gs", amount }), { headers: hd, timeout: 5000 })).json<any>();
        if (reply.status === "committed") committed.set(key, amount);
        else unanswered.push({ key, amount, code: reply.error?.code ?? reply.status });
      } catch (err) {
        // After the stop: nobody serves the subject any more.
        unanswered.push({ key, amount, code: (err as Error).message });
        if (exited) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  };
  const senders = Array.from({ length: 16 }, sender);
  while (committed.size < 200) await new Promise((resolve) => setTimeout(resolve, 20));
  const stoppedAt = Date.now();
  worker.child.kill("SIGTERM");
  const code = await worker.stopped(SHUTDOWN_TIMEOUT_MS * 2);
  const stopMs = Date.now() - stoppedAt;
  await Promise.all(senders);
  t.diagnostic(`stopped in ${stopMs} ms; ${committed.size} deposits committed under load, ${unanswered.length} reached no worker`);
  assert.equal(code, 0, worker.stderr());
  assert.ok(stopMs <= SHUTDOWN_TIMEOUT_MS + TIMER_SLACK_MS, `stopped after ${stopMs} ms, bound ${SHUTDOWN_TIMEOUT_MS} ms`);
  assert.ok(
    unanswered.every((u) => /no responders|503/i.test(u.code)),
    `only requests that reached no worker went unanswered: ${JSON.stringify(unanswered.filter((u) => !/no responders|503/i.test(u.code)).slice(0, 3))}`,
  );

  // Nothing lost: the backlog and every committed command's events are published, each once.
  assert.equal(await unpublished(), 0, "the stop flushed the outbox");
  assert.equal(await streamCount(h.nc, `${h.domain.toUpperCase()}_EVENTS`), await events(), "one stream message per event");
  // Nothing doubled or missing: the balance is the backlog plus exactly the committed deposits.
  const committedSum = [...committed.values()].reduce((a, b) => a + b, 0);
  const { rows } = await sql<{ balance: number }>`SELECT balance FROM bank_accounts WHERE id = 'gs'`.execute(h.database.db);
  const stored = await sql<{ n: number }>`SELECT count(*)::INT AS n FROM herald_commands WHERE domain = ${h.domain} AND command = 'deposit'`.execute(h.database.db);
  assert.equal(stored.rows[0]!.n, BACKLOG + committed.size, "every stored deposit was answered committed (no answer was lost)");
  assert.equal(rows[0]!.balance, BACKLOG + committedSum);
});

test("a stop that cannot finish (the database stalled under in-flight work) is cut at the timeout, each step abandoned in turn", async () => {
  const url = new URL(h.database.url);
  const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  url.port = String(proxy.port);
  const database = await connectDatabase({ url: url.toString(), poolMax: 2 });
  const nc = await connectSharedNats();
  const domain = `${h.domain}s`;
  const worker = await startWorker({ app: bankApp, nc, db: database.db, domain, prune: false, dialect: "postgresql" });
  try {
    proxy.stall();
    const hd = headers();
    hd.set("Idempotency-Key", uniqueKey());
    const inFlight = nc.request(`${domain}.cmd.open_account`, JSON.stringify({ accountId: "x", owner: "x" }), { headers: hd, timeout: 20_000 }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const timeoutMs = 1500;
    const { abandoned, ms } = await stopGracefully({ worker, nc, database, timeoutMs });
    assert.ok(ms <= timeoutMs + TIMER_SLACK_MS, `stopped after ${ms} ms, bound ${timeoutMs} ms`);
    assert.ok(abandoned.includes("worker"), `abandoned: ${abandoned.join(", ")}`);
    assert.ok(nc.isClosed(), "the NATS connection is closed even when its drain was cut short");
    await inFlight;
  } finally {
    proxy.resume();
    await proxy.close();
    await database.destroy().catch(() => undefined);
    await (await jetstreamManager(h.nc)).streams.delete(`${domain.toUpperCase()}_EVENTS`).catch(() => undefined);
  }
});
