import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { DEADLINE_ANSWER_BOUND_MS } from "../../src/commands/command-deadline.js";
import { DEFAULT_TIMEOUT_MS } from "../../src/client/options.js";
import { poolUsage, type Database } from "../../src/db/connection.js";
import { DEFAULT_RETRY_POLICY } from "../../src/db/transact.js";
import type { Worker } from "../../src/worker/worker.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { uniqueKey } from "../kit/names.js";
import { connectThroughProxy, type ProxiedDatabase } from "../kit/proxied-database.js";
import type { TcpProxy } from "../kit/tcp-proxy.js";
import { waitFor } from "../kit/wait.js";

// The stall as a new user meets it: the database frozen behind a proxy, every
// setting at its default (10 s deadline, 5 s statement timeout, pool of 10),
// 8 transfers sent during the stall. Each is answered by the deadline plus the
// documented bound, which is shorter than the client's default timeout.
const ANSWER_BOUND_MS = DEFAULT_RETRY_POLICY.deadlineMs + DEADLINE_ANSWER_BOUND_MS;

let h: Harness;
let proxy: TcpProxy;
let proxied: Database;
let through: ProxiedDatabase;
let worker: Worker;

before(async () => {
  h = await createHarness();
  through = await connectThroughProxy(h.database.url);
  ({ proxy, database: proxied } = through);
  worker = await h.startWorker({ db: proxied.db, prune: false });
  for (const id of ["sd_a", "sd_b"]) {
    assert.equal((await h.send("open_account", { accountId: id, owner: id, initialBalance: 1000 })).body.status, "committed");
  }
});

after(async () => {
  proxy?.resume();
  await Promise.allSettled(h.workers.map((w) => w.stop()));
  await through?.close();
  await h?.close();
});

const balance = async (id: string) =>
  Number((await sql<{ balance: number }>`SELECT balance FROM bank_accounts WHERE id = ${id}`.execute(h.database.db)).rows[0]?.balance);

test("the client's default timeout outlasts the latest answer of a worker with default settings", () => {
  assert.ok(DEFAULT_TIMEOUT_MS > ANSWER_BOUND_MS, `client ${DEFAULT_TIMEOUT_MS} ms, worker answers by ${ANSWER_BOUND_MS} ms`);
});

test("defaults: 8 transfers during a stall all get 503 unavailable by the 10 s deadline plus the bound; retried after it, each applies once", async (t) => {
  const keys = Array.from({ length: 8 }, () => uniqueKey());
  proxy.stall();
  const sent = Date.now();
  const replies = await Promise.all(
    keys.map(async (key, i) => {
      const r = await h.send("transfer", { from: i % 2 ? "sd_a" : "sd_b", to: i % 2 ? "sd_b" : "sd_a", amount: i + 1 }, { key, timeoutMs: DEFAULT_TIMEOUT_MS });
      return { ...r, ms: Date.now() - sent };
    }),
  );
  proxy.resume();
  for (const r of replies) {
    assert.equal(r.body.error?.code, "unavailable", JSON.stringify(r.body));
    assert.equal(r.errorCode, "503");
    assert.ok(r.ms <= ANSWER_BOUND_MS, `answered after ${r.ms} ms, bound ${ANSWER_BOUND_MS} ms`);
  }
  t.diagnostic(`503s answered after ${Math.min(...replies.map((r) => r.ms))}-${Math.max(...replies.map((r) => r.ms))} ms`);

  await waitFor(() => {
    const usage = poolUsage(proxied.pool);
    return (usage.inUse === 0 && usage.waiting === 0 && worker.service.inFlight() === 0) || undefined;
  }, { what: "pool and in-flight back to zero", timeoutMs: 30_000 });
  for (const [i, key] of keys.entries()) {
    const again = await h.send("transfer", { from: i % 2 ? "sd_a" : "sd_b", to: i % 2 ? "sd_b" : "sd_a", amount: i + 1 }, { key });
    assert.equal(again.body.status, "committed", JSON.stringify(again.body));
    assert.equal(again.body.duplicate, false, "nothing of the stalled attempt committed");
  }
  // Even i move b -> a (amounts 1, 3, 5, 7), odd i move a -> b (2, 4, 6, 8).
  assert.equal(await balance("sd_a"), 1000 - (2 + 4 + 6 + 8) + (1 + 3 + 5 + 7));
  assert.equal(await balance("sd_b"), 1000 + (2 + 4 + 6 + 8) - (1 + 3 + 5 + 7));
});
