import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { SpanKind, context, trace } from "@opentelemetry/api";
import { sql } from "kysely";
import { bankApp, openAccount } from "../../examples/bank/index.js";
import { startOrderPayments } from "../../examples/order-payments/index.js";
import { ordersApp, placeOrder } from "../../examples/orders/index.js";
import { createClient, type HeraldClient } from "../../src/client/client.js";
import type { HeraldConsumer } from "../../src/consumer/index.js";
import { migrateApp } from "../../src/db/migrate-app.js";
import { reactionKey } from "../../src/reactor/index.js";
import { startWorker, type Worker } from "../../src/worker/worker.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { connectSharedNats } from "../kit/nats-server.js";
import { uniqueDomain } from "../kit/names.js";
import { waitFor } from "../kit/wait.js";
import { installTestTelemetry } from "../telemetry/otel-kit.js";

// The orders -> bank chain: placing an order makes bank reserve its total, and
// the order's payment follows the bank's answer.
const otel = installTestTelemetry();
let database: TestDatabase<any>;
const nc = await connectSharedNats();
const orders = uniqueDomain("rord");
const bank = uniqueDomain("rbank");
const workers: Worker[] = [];
let reactor: HeraldConsumer;
let ordersClient: HeraldClient;

before(async () => {
  database = await createTestDatabase();
  await migrateApp(database.db, ordersApp);
  await migrateApp(database.db, bankApp);
  const outbox = { intervalMs: 100, graceMs: 500 };
  workers.push(await startWorker({ app: ordersApp, nc, db: database.db, domain: orders, outbox }));
  workers.push(await startWorker({ app: bankApp, nc, db: database.db, domain: bank, outbox }));
  const bankClient = createClient(nc, { domain: bank });
  assert.equal((await bankClient.send(openAccount, { accountId: "ada", owner: "Ada", initialBalance: 500 })).status, "committed");
  reactor = await startOrderPayments({ nc, db: database.db, ordersDomain: orders, bankDomain: bank });
  ordersClient = createClient(nc, { domain: orders });
});
after(async () => {
  await reactor?.stop();
  await Promise.allSettled(workers.map((w) => w.stop()));
  const jsm = await jetstreamManager(nc);
  for (const d of [orders, bank]) for (const s of ["EVENTS", "DLQ"]) await jsm.streams.delete(`${d.toUpperCase()}_${s}`).catch(() => undefined);
  await nc.close();
  await database.drop();
});

const payment = async (orderId: string) =>
  (await database.db.selectFrom("orders").select("payment").where("id", "=", orderId).executeTakeFirst())?.payment as string | null | undefined;
const item = (unitPrice: number) => [{ sku: "book", quantity: 1, unitPrice }];

test("an order placed reserves its total at the bank once; the order's payment follows the reply, in the order's trace", async () => {
  const span = trace.getTracer("test").startSpan("place order", { kind: SpanKind.CLIENT });
  const reply = await context.with(trace.setSpan(context.active(), span), () => ordersClient.send(placeOrder, { orderId: "o1", customerId: "ada", items: item(300) }));
  span.end();
  assert.equal(reply.status, "committed");
  await waitFor(async () => (await payment("o1")) ?? undefined, { what: "o1's payment" });
  assert.equal(await payment("o1"), "reserved");

  const reservations = await database.db.selectFrom("bank_reservations").selectAll().execute();
  assert.deepEqual(reservations.map((r) => [r.id, r.account_id, Number(r.amount)]), [["o1", "ada", 300]]);
  const account = await database.db.selectFrom("bank_accounts").select("balance").where("id", "=", "ada").executeTakeFirstOrThrow();
  assert.equal(Number(account.balance), 200, "500 - 300 reserved: money moved, none made");

  // The keys: reactor name, event id, step. The trace: the client's, through the event, to the bank's command.
  const eventId = reply.status === "committed" ? reply.events[0]!.id : "";
  const sent = await sql<{ domain: string; idempotency_key: string; command: string; trace_id: string | null }>`
    SELECT domain, idempotency_key, command, trace_id FROM herald_commands WHERE domain IN (${bank}, ${orders}) AND command IN ('reserve_funds', 'record_payment') ORDER BY idempotency_key`.execute(database.db);
  assert.deepEqual(
    sent.rows.map((r) => [r.domain, r.command, r.idempotency_key]),
    [
      [bank, "reserve_funds", reactionKey("order_payments", eventId, 0)],
      [orders, "record_payment", reactionKey("order_payments", eventId, 1)],
    ],
  );
  for (const row of sent.rows) assert.equal(row.trace_id, span.spanContext().traceId, `${row.command} continues the order's trace`);
  assert.ok(otel.traceSpans(span.spanContext().traceId).some((s) => s.name === `send ${bank}.cmd.reserve_funds`), "the reactor's send span is in the trace");
});

test("a rejected reservation is recorded, the compensation declines the order, and the reactor moves on", async () => {
  // 200 left: the second order of 300 cannot be covered; the third (100) can.
  for (const [orderId, price] of [["o2", 300], ["o3", 100]] as const) {
    assert.equal((await ordersClient.send(placeOrder, { orderId, customerId: "ada", items: item(price) })).status, "committed");
  }
  await waitFor(async () => ((await payment("o2")) && (await payment("o3"))) || undefined, { what: "both payments" });
  assert.equal(await payment("o2"), "declined");
  assert.equal(await payment("o3"), "reserved");
  const rejections = await database.db.selectFrom("herald_reactor_rejections").selectAll().execute();
  assert.equal(rejections.length, 1);
  assert.deepEqual([rejections[0]!.reactor, rejections[0]!.subject, rejections[0]!.code], ["order_payments", `${bank}.cmd.reserve_funds`, "insufficient_funds"]);
  const money = await sql<{ total: string }>`SELECT (SELECT sum(balance) FROM bank_accounts) + (SELECT coalesce(sum(amount), 0) FROM bank_reservations) AS total`.execute(database.db);
  assert.equal(Number(money.rows[0]!.total), 500, "money conserved");
});

test("reactionKey: unique per (reactor, event, step), and bad names are refused", () => {
  const e1 = "5d1f6f52-6f1e-4bb4-9a57-1a1b52a0b6c1";
  const e2 = "6e2a7a63-7a2f-4cc5-8b68-2b2c63b1c7d2";
  const keys = ["r1", "r2"].flatMap((r) => [e1, e2].flatMap((e) => [0, 1].map((s) => reactionKey(r, e, s))));
  assert.equal(new Set(keys).size, keys.length);
  assert.equal(reactionKey("r1", e1.toUpperCase(), 0), reactionKey("r1", e1, 0), "the same event always yields the same key");
  assert.throws(() => reactionKey("bad name", e1, 0), /name "bad name" must be/);
  assert.throws(() => reactionKey("r1", e1, -1), RangeError);
});
