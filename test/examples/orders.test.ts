import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { Svcm } from "@nats-io/services";
import { cancelCustomerOrders, cancelOrder, MAX_OPEN_ORDERS, placeOrder } from "../../examples/orders/index.js";
import { createClient, CommandRequestError, type HeraldClient } from "../../src/index.js";
import { runCli, spawnCli, type CliProcess } from "../kit/cli.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { connectSharedNats } from "../kit/nats-server.js";
import { uniqueDomain } from "../kit/names.js";
import { readStream, streamCount } from "../kit/stream.js";
import { waitFor } from "../kit/wait.js";

/**
 * The orders example as a user runs their own app: migrated and served by the
 * built CLI with --app, driven through the typed client with its definitions.
 */

const APP = "dist/examples/orders/index.js";
let database: TestDatabase<any>;
let nc: NatsConnection;
let worker: CliProcess | undefined;
let client: HeraldClient;
const domain = uniqueDomain("ord");

before(async () => {
  database = await createTestDatabase();
  nc = await connectSharedNats();
  const migrated = await runCli(["migrate", "--app", APP], { env: { DATABASE_URL: database.url } });
  assert.equal(migrated.code, 0, migrated.stderr);
  // Herald's own migrations first (their number grows), then the app's.
  assert.match(migrated.stdout, /applied \d+ migration\(s\): 0001_herald_core, .*orders\/0001_orders$/m);
  worker = spawnCli(["start", "--app", APP, "--domain", domain], { env: { DATABASE_URL: database.url, LOG_LEVEL: "warn" } });
  await worker.waitForLine(/herald worker ready/);
  client = createClient(nc, { domain });
});
after(async () => {
  if (worker?.child.exitCode === null) worker.child.kill("SIGTERM");
  const code = await worker?.stopped(20_000);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(`${domain.toUpperCase()}_EVENTS`).catch(() => undefined);
  await nc.close();
  await database.drop();
  assert.equal(code, 0, worker?.stderr());
});

const item = (sku: string, quantity: number, unitPrice: number) => ({ sku, quantity, unitPrice });
const orderStatus = async (id: string) =>
  (await database.db.selectFrom("orders").select("status").where("id", "=", id).executeTakeFirst())?.status as string | undefined;

test("the worker serves the app's commands and lists them in discovery", async () => {
  const infos = [];
  for await (const info of await new Svcm(nc).client().info(domain)) infos.push(info);
  assert.deepEqual(infos[0]!.endpoints.map((e) => e.subject).sort(), [`${domain}.cmd.cancel_customer_orders`, `${domain}.cmd.cancel_order`, `${domain}.cmd.place_order`]);
  assert.equal(infos[0]!.endpoints.find((e) => e.name === "place_order")!.metadata!.events, `${domain}.evt.order_placed`);
});

test("orders are placed and cancelled with typed results, events and rejections", async () => {
  const placed = await client.send(placeOrder, { orderId: "o1", customerId: "c1", items: [item("apple", 3, 50), item("pear", 1, 120)] });
  assert.equal(placed.status, "committed");
  assert.deepEqual(placed.status === "committed" && placed.result, { orderId: "o1", status: "placed", total: 270 });

  const again = await client.send(placeOrder, { orderId: "o1", customerId: "c1", items: [item("apple", 1, 50)] });
  assert.equal(again.status === "rejected" && again.error.code, "order_exists");

  const cancelled = await client.send(cancelOrder, { orderId: "o1", reason: "changed my mind" });
  assert.deepEqual(cancelled.status === "committed" && cancelled.result, { orderId: "o1", status: "cancelled" });
  const twice = await client.send(cancelOrder, { orderId: "o1" });
  assert.equal(twice.status === "rejected" && twice.error.code, "order_already_cancelled");
  const missing = await client.send(cancelOrder, { orderId: "nope" });
  assert.equal(missing.status === "rejected" && missing.error.code, "order_not_found");
  assert.equal(await orderStatus("o1"), "cancelled");

  // The cross-field rule is refused by the client before sending, and by the worker the same way.
  const local = await client.send(placeOrder, { orderId: "o9", customerId: "c1", items: [item("a", 1, 1), item("a", 2, 1)] }).catch((e: unknown) => e);
  const remote = await client
    .sendRaw("place_order", { orderId: "o9", customerId: "c1", items: [item("a", 1, 1), item("a", 2, 1)] })
    .catch((e: unknown) => e);
  assert.ok(local instanceof CommandRequestError && remote instanceof CommandRequestError);
  assert.equal(local.code, "invalid_command");
  assert.equal(local.attempts, 0);
  assert.deepEqual(local.details, remote.details);
  assert.equal(await orderStatus("o9"), undefined);

  // Committed commands' events reach the domain's stream.
  const stream = `${domain.toUpperCase()}_EVENTS`;
  await waitFor(async () => (await streamCount(nc, stream)) === 2 || undefined, { what: "2 events in the stream" });
  const messages = await readStream(nc, stream);
  assert.deepEqual(messages.map((m) => m.headers["ce-type"]), [`${domain}.order_placed`, `${domain}.order_cancelled`]);
  assert.deepEqual(messages[0]!.data, { orderId: "o1", customerId: "c1", items: [item("apple", 3, 50), item("pear", 1, 120)], total: 270 });
  assert.deepEqual(messages[1]!.data, { orderId: "o1", reason: "changed my mind" });
});

test("the open-orders limit holds under concurrent orders (SERIALIZABLE, no write skew)", async () => {
  const replies = await Promise.all(
    Array.from({ length: 10 }, (_, i) => client.send(placeOrder, { orderId: `rush_${i}`, customerId: "c2", items: [item("tea", 1, 300)] })),
  );
  const committed = replies.filter((r) => r.status === "committed");
  const refused = replies.filter((r) => r.status === "rejected");
  assert.equal(committed.length, MAX_OPEN_ORDERS);
  assert.equal(refused.length, 10 - MAX_OPEN_ORDERS);
  assert.ok(refused.every((r) => r.status === "rejected" && r.error.code === "too_many_open_orders"));
  const rows = await database.db.selectFrom("orders").select("id").where("customer_id", "=", "c2").where("status", "=", "placed").execute();
  assert.equal(rows.length, MAX_OPEN_ORDERS);

  // Cancelling one makes room for one more.
  const first = committed[0]!;
  assert.equal((await client.send(cancelOrder, { orderId: first.status === "committed" ? first.result.orderId : "" })).status, "committed");
  const next = await client.send(placeOrder, { orderId: "rush_late", customerId: "c2", items: [item("tea", 2, 300)] });
  assert.equal(next.status, "committed");
});

test("a command with several events: they reach the stream in the order the handler emitted them", async () => {
  for (const id of ["m3", "m1", "m2"]) assert.equal((await client.send(placeOrder, { orderId: id, customerId: "c3", items: [item("fig", 1, 10)] })).status, "committed");
  const reply = await client.send(cancelCustomerOrders, { customerId: "c3", reason: "moving" });
  assert.equal(reply.status, "committed");
  assert.deepEqual(reply.status === "committed" && reply.result, { customerId: "c3", cancelled: ["m1", "m2", "m3"] });
  const names = ["order_cancelled", "order_cancelled", "order_cancelled", "customer_orders_cancelled"].map((e) => `${domain}.evt.${e}`);
  assert.deepEqual(reply.status === "committed" && reply.events.map((e) => e.subject), names);
  const none = await client.send(cancelCustomerOrders, { customerId: "c3" });
  assert.equal(none.status === "rejected" && none.error.code, "no_open_orders");

  const stream = `${domain.toUpperCase()}_EVENTS`;
  const commandId = reply.status === "committed" ? reply.commandId : "";
  const ofCommand = async () => (await readStream(nc, stream)).filter((m) => m.headers["ce-commandid"] === commandId);
  const messages = await waitFor(
    async () => {
      const found = await ofCommand();
      return found.length === 4 ? found : undefined;
    },
    { what: "the command's 4 events" },
  );
  assert.deepEqual(messages.map((m) => m.headers["ce-id"]), reply.status === "committed" ? reply.events.map((e) => e.id) : []);
  assert.deepEqual(messages.map((m) => m.data), [
    { orderId: "m1", reason: "moving" },
    { orderId: "m2", reason: "moving" },
    { orderId: "m3", reason: "moving" },
    { customerId: "c3", orderIds: ["m1", "m2", "m3"] },
  ]);
});
