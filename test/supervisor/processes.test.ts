import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { Svcm } from "@nats-io/services";
import { sql } from "kysely";
import { runCli, spawnCli, type CliProcess } from "../kit/cli.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { uniqueDomain } from "../kit/names.js";
import { connectSharedNats } from "../kit/nats-server.js";
import { waitFor } from "../kit/wait.js";
import { childPids } from "../../bench/proc-stats.js";

let database: TestDatabase<any>;
let nc: NatsConnection;
const domain = uniqueDomain("sup");
const ACCOUNTS = 8;
const DEPOSITS = 240;
const CLIENTS = 12;

before(async () => {
  database = await createTestDatabase();
  nc = await connectSharedNats();
  assert.equal((await runCli(["migrate"], { env: { DATABASE_URL: database.url } })).code, 0);
});
after(async () => {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(`${domain.toUpperCase()}_EVENTS`).catch(() => undefined);
  await nc.close();
  await database.drop();
});

/** Instances answering the domain's $SRV.PING: one per worker process. */
async function instances(): Promise<Set<string>> {
  const ids = new Set<string>();
  for await (const p of await new Svcm(nc).client().ping(domain)) ids.add(p.id);
  return ids;
}

/**
 * Sends a command until it gets a committed reply, with the same key each time, as
 * a client must when a reply is lost (a timeout) or no worker answers for a moment.
 */
async function sendUntilCommitted(command: string, key: string, body: object): Promise<{ duplicate: boolean }> {
  const h = headers();
  h.set("Idempotency-Key", key);
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const reply = (await nc.request(`${domain}.cmd.${command}`, JSON.stringify(body), { headers: h, timeout: 3000 })).json<any>();
      if (reply.status === "committed") return { duplicate: reply.duplicate === true };
      if (reply.status === "rejected") throw new Error(`${key} rejected: ${JSON.stringify(reply.error)}`);
    } catch (err) {
      if ((err as Error).message.includes("rejected")) throw err;
      // A timeout or no responders while a process restarts: send it again.
    }
    if (Date.now() > deadline) throw new Error(`${key} never committed`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const workerPids = (supervisor: CliProcess): number[] => childPids(supervisor.child.pid!);

test("several worker processes serve one domain; one killed with SIGKILL is restarted; no command is lost or doubled", async () => {
  const supervisor = spawnCli(["start", "--domain", domain, "--processes", "3"], {
    env: { DATABASE_URL: database.url, LOG_LEVEL: "info", HERALD_DOMAIN: undefined, HERALD_DB_POOL_MAX: "6" },
  });
  try {
    const ready = await supervisor.waitForLine(/herald worker ready/, 60_000);
    assert.match(ready, new RegExp(`domain=${domain} processes=3 pids=\\d+,\\d+,\\d+$`));
    const first = workerPids(supervisor);
    assert.equal(first.length, 3);
    assert.equal((await instances()).size, 3, "three instances in the queue group");

    for (let i = 0; i < ACCOUNTS; i++) await sendUntilCommitted("open_account", `open-${i}`, { accountId: `a${i}`, owner: "supervised" });
    const amounts = Array.from({ length: DEPOSITS }, (_, i) => 1 + (i % 97));
    let next = 0;
    let done = 0;
    let killed: number | undefined;
    const client = async () => {
      for (let i = next++; i < DEPOSITS; i = next++) {
        await sendUntilCommitted("deposit", `dep-${i}`, { accountId: `a${i % ACCOUNTS}`, amount: amounts[i] });
        // A third of the way through, with requests in flight, one process dies hard.
        if (++done === Math.floor(DEPOSITS / 3)) {
          killed = first[1]!;
          process.kill(killed, "SIGKILL");
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, client));
    assert.ok(killed !== undefined);
    // HERALD_DB_POOL_MAX is the total: three processes of two connections each, never three pools of six.
    const sessions = await sql<{ n: number }>`SELECT count(*)::INT AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'herald-bank'`.execute(database.db);
    assert.ok(sessions.rows[0]!.n <= 6, `${sessions.rows[0]!.n} worker sessions`);

    // The supervisor started a process in its place, which serves again.
    await waitFor(() => /worker process restarted/.test(supervisor.stderr()), { timeoutMs: 30_000, what: "the restart" });
    const now = workerPids(supervisor);
    assert.equal(now.length, 3);
    assert.ok(!now.includes(killed), "the killed process is gone");
    await waitFor(async () => (await instances()).size === 3, { timeoutMs: 15_000, what: "three instances again" });

    // Every deposit stored once, and applied once: the balances hold exactly what was sent.
    const stored = await sql<{ n: string; keys: string }>`
      SELECT count(*)::TEXT AS n, count(DISTINCT idempotency_key)::TEXT AS keys FROM herald_commands
       WHERE domain = ${domain} AND command = 'deposit' AND status = 'committed'`.execute(database.db);
    assert.deepEqual(stored.rows[0], { n: String(DEPOSITS), keys: String(DEPOSITS) });
    const total = await sql<{ sum: string }>`SELECT sum(balance)::TEXT AS sum FROM bank_accounts WHERE owner = 'supervised'`.execute(database.db);
    assert.equal(total.rows[0]!.sum, String(amounts.reduce((a, b) => a + b, 0)));
    // Every event reaches the stream once (the relay publishes what a killed process left).
    const jsm = await jetstreamManager(nc);
    await waitFor(async () => (await jsm.streams.info(`${domain.toUpperCase()}_EVENTS`)).state.messages === ACCOUNTS + DEPOSITS, {
      timeoutMs: 30_000,
      what: "every event in the stream",
    });
    const outbox = await sql<{ n: string }>`SELECT count(*)::TEXT AS n FROM herald_outbox WHERE domain = ${domain}`.execute(database.db);
    assert.equal(outbox.rows[0]!.n, String(ACCOUNTS + DEPOSITS));
  } finally {
    supervisor.child.kill("SIGTERM");
  }
  const pids = workerPids(supervisor);
  assert.equal(await supervisor.stopped(40_000), 0, supervisor.stderr());
  assert.match(supervisor.stderr(), /herald workers stopped \(SIGTERM\)/);
  assert.equal(supervisor.stderr().match(/herald worker stopped \(SIGTERM\)/g)?.length, 3, "each process stopped gracefully");
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), "no worker process outlives the supervisor");
});

test("a bad --processes value is refused before anything starts", async () => {
  for (const value of ["0", "65", "many", "1.5", "auto2"]) {
    const result = await runCli(["start", "--domain", domain, "--processes", value], { env: { DATABASE_URL: database.url } });
    assert.equal(result.code, 1, value);
    assert.match(result.stderr, /--processes must be a whole number from 1 to 64, or auto/, value);
    assert.doesNotMatch(result.stdout, /ready/);
  }
});

test("worker processes whose supervisor is killed stop by themselves", async () => {
  const supervisor = spawnCli(["start", "--domain", domain, "--processes", "2"], { env: { DATABASE_URL: database.url, LOG_LEVEL: "warn", HERALD_DOMAIN: undefined } });
  await supervisor.waitForLine(/herald worker ready/, 60_000);
  const pids = workerPids(supervisor);
  assert.equal(pids.length, 2);
  supervisor.child.kill("SIGKILL");
  await supervisor.exited;
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  // Their IPC channel closed: each stops gracefully, as on SIGTERM.
  await waitFor(() => pids.every((pid) => !alive(pid)), { timeoutMs: 30_000, what: "the orphaned workers to stop" });
  assert.equal(supervisor.stderr().match(/herald worker stopped \(disconnect\)/g)?.length, 2);
});
