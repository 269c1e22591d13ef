import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { sql } from "kysely";
import { bankApp, openAccount } from "../../examples/bank/index.js";
import { ordersApp, placeOrder, MAX_OPEN_ORDERS } from "../../examples/orders/index.js";
import { createClient } from "../../src/client/client.js";
import { migrateApp } from "../../src/db/migrate-app.js";
import { reactionKey } from "../../src/reactor/index.js";
import { startWorker, type Worker } from "../../src/worker/worker.js";
import { spawnCli, type CliProcess } from "../kit/cli.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { connectSharedNats } from "../kit/nats-server.js";
import { uniqueDomain } from "../kit/names.js";
import { waitFor } from "../kit/wait.js";
import { startWorkerProcess, type WorkerProcess } from "../fuzz/worker-process.js";

// The orders -> bank chain under kill -9 of the reactor and of the bank's
// worker mid-chain: every order reserves its funds exactly once (or is
// declined), and money is conserved.
const REACTOR = fileURLToPath(new URL("../fixtures/order-payments-reactor.ts", import.meta.url));
const CUSTOMERS = 10;
const BALANCE = 500;
const PRICE = 200; // the third order of each customer cannot be covered
let database: TestDatabase<any>;
const nc = await connectSharedNats();
const orders = uniqueDomain("kord");
const bank = uniqueDomain("kbank");
let ordersWorker: Worker;
let bankWorker: WorkerProcess | undefined;
let reactor: CliProcess | undefined;

before(async () => {
  database = await createTestDatabase();
  await migrateApp(database.db, ordersApp);
  await migrateApp(database.db, bankApp);
  ordersWorker = await startWorker({ app: ordersApp, nc, db: database.db, domain: orders, outbox: { intervalMs: 100, graceMs: 500 } });
  bankWorker = await startWorkerProcess({ databaseUrl: database.url, domain: bank });
  const bankClient = createClient(nc, { domain: bank });
  for (let c = 0; c < CUSTOMERS; c++) {
    assert.equal((await bankClient.send(openAccount, { accountId: `c${c}`, owner: `C${c}`, initialBalance: BALANCE })).status, "committed");
  }
});
after(async () => {
  reactor?.child.kill("SIGKILL");
  await bankWorker?.stop();
  await ordersWorker?.stop();
  const jsm = await jetstreamManager(nc);
  for (const d of [orders, bank]) for (const s of ["EVENTS", "DLQ"]) await jsm.streams.delete(`${d.toUpperCase()}_${s}`).catch(() => undefined);
  await nc.close();
  await database.drop();
});

const startReactor = async () => {
  const child = spawnCli([orders, bank], { command: [process.execPath, "--import", "tsx", REACTOR], env: { DATABASE_URL: database.url, LOG_LEVEL: "silent" } });
  await child.waitForLine(/reactor ready/);
  return child;
};
const decided = async () =>
  Number((await sql<{ n: string }>`SELECT count(*) AS n FROM orders WHERE payment IS NOT NULL`.execute(database.db)).rows[0]!.n);

test("kill -9 of the reactor and of the bank's worker mid-chain: each order reserves once, money is conserved", async () => {
  const total = CUSTOMERS * MAX_OPEN_ORDERS;
  const ordersClient = createClient(nc, { domain: orders });
  const placed = await Promise.all(
    Array.from({ length: total }, (_, i) =>
      ordersClient.send(placeOrder, { orderId: `k${i}`, customerId: `c${i % CUSTOMERS}`, items: [{ sku: "x", quantity: 1, unitPrice: PRICE }] }),
    ),
  );
  assert.ok(placed.every((r) => r.status === "committed"));

  reactor = await startReactor();
  await waitFor(async () => (await decided()) >= total / 4 || undefined, { what: "a quarter of the orders decided", timeoutMs: 30_000 });
  reactor.child.kill("SIGKILL");
  await reactor.exited;
  assert.ok((await decided()) < total, "the reactor died mid-chain");
  reactor = await startReactor();

  await waitFor(async () => (await decided()) >= total / 2 || undefined, { what: "half of the orders decided", timeoutMs: 30_000 });
  process.kill(bankWorker!.pid, "SIGKILL");
  await bankWorker!.cli.exited;
  assert.ok((await decided()) < total, "the bank's worker died mid-chain");
  bankWorker = await startWorkerProcess({ databaseUrl: database.url, domain: bank });

  await waitFor(async () => (await decided()) === total || undefined, { what: "every order decided", timeoutMs: 60_000 });

  // Exactly once: one reservation per reserved order, of its total; none for a declined one.
  const rows = await sql<{ id: string; payment: string; reservations: number; reserved: string | null }>`
    SELECT o.id, o.payment, count(r.id)::INT AS reservations, sum(r.amount) AS reserved
      FROM orders o LEFT JOIN bank_reservations r ON r.id = o.id GROUP BY o.id, o.payment`.execute(database.db);
  for (const row of rows.rows) {
    if (row.payment === "reserved") assert.deepEqual([row.reservations, Number(row.reserved)], [1, PRICE], `order ${row.id}`);
    else assert.equal(row.reservations, 0, `declined order ${row.id} holds no funds`);
  }
  const reserved = rows.rows.filter((r) => r.payment === "reserved").length;
  assert.equal(reserved, CUSTOMERS * Math.floor(BALANCE / PRICE), "each customer's balance covers exactly two orders");

  // Money conserved: what the accounts hold plus what is set aside is what was opened.
  const money = await sql<{ total: string }>`SELECT (SELECT sum(balance) FROM bank_accounts) + (SELECT coalesce(sum(amount), 0) FROM bank_reservations) AS total`.execute(database.db);
  assert.equal(Number(money.rows[0]!.total), CUSTOMERS * BALANCE);

  // One reserve_funds command per order event, under the key derived from it; keys never shared.
  const events = await sql<{ id: string; order_id: string }>`
    SELECT o.id, o.data->>'orderId' AS order_id FROM herald_outbox o JOIN herald_commands c ON c.id = o.command_id
     WHERE c.domain = ${orders} AND c.command = 'place_order'`.execute(database.db);
  const reserveKeys = await sql<{ idempotency_key: string }>`
    SELECT idempotency_key FROM herald_commands WHERE domain = ${bank} AND command = 'reserve_funds'`.execute(database.db);
  assert.deepEqual(
    reserveKeys.rows.map((r) => r.idempotency_key).sort(),
    events.rows.map((e) => reactionKey("order_payments", e.id, 0)).sort(),
    "exactly one reserve_funds per order event, keyed by reactor and event",
  );
});
