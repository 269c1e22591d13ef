import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { Svcm } from "@nats-io/services";
import { sql, type Transaction } from "kysely";
import { deposit, openAccount } from "../../examples/bank/index.js";
import { AWAIT_SLACK_MS } from "../../src/client/await-consumers.js";
import { createClient, type HeraldClient, type SendReply } from "../../src/client/client.js";
import { CommandRequestError } from "../../src/client/request-error.js";
import { startConsumer } from "../../src/consumer/consume.js";
import { consume, type HeraldConsumer, type HeraldEvent } from "../../src/consumer/index.js";
import { ConsistencyTokenError, encodeConsistencyToken } from "../../src/protocol/consistency-token.js";
import { appliedService } from "../../src/protocol/applied.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { uniqueKey } from "../kit/names.js";

let h: Harness;
let client: HeraldClient;
const running: HeraldConsumer[] = [];

before(async () => {
  h = await createHarness();
  await h.startWorker();
  await sql`CREATE TABLE aw_balances (consumer TEXT NOT NULL, account_id TEXT NOT NULL, balance BIGINT NOT NULL, PRIMARY KEY (consumer, account_id))`.execute(h.database.db);
  client = createClient(h.nc, { domain: h.domain });
});
after(async () => {
  await Promise.allSettled(running.map((c) => c.stop()));
  await h.close();
});

/** The read model's balance of an account as `consumer` applied it. */
async function viewBalance(consumer: string, account: string): Promise<number | undefined> {
  const row = await h.database.db.selectFrom("aw_balances" as any).select("balance").where("consumer", "=", consumer).where("account_id", "=", account).executeTakeFirst();
  return row === undefined ? undefined : Number((row as { balance: string }).balance);
}

async function applyBalance(durable: string, event: HeraldEvent, tx: Transaction<any>): Promise<void> {
  const data = event.data as { accountId: string; balance?: number; initialBalance?: number };
  const balance = data.balance ?? data.initialBalance ?? 0;
  await sql`INSERT INTO aw_balances (consumer, account_id, balance) VALUES (${durable}, ${data.accountId}, ${balance})
            ON CONFLICT (consumer, account_id) DO UPDATE SET balance = excluded.balance`.execute(tx);
}

/** A read model whose handler first awaits `gate(event)` (a delay, or a test's go-ahead). */
async function startView(durable: string, gate: (event: HeraldEvent) => Promise<void> = async () => undefined, extra: { positionRefreshMs?: number } = {}): Promise<HeraldConsumer> {
  const consumer = await startConsumer(
    {
      nc: h.nc,
      db: h.database.db,
      domain: h.domain,
      durable,
      backoffMs: [50],
      async handle(event, { tx }) {
        await gate(event);
        await applyBalance(durable, event, tx);
      },
    },
    extra,
  );
  running.push(consumer);
  return consumer;
}

const committed = (reply: SendReply): Extract<SendReply, { status: "committed" }> => {
  assert.equal(reply.status, "committed", JSON.stringify(reply));
  return reply as Extract<SendReply, { status: "committed" }>;
};
const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

test("send with awaitConsumers returns once the read model shows the write", async () => {
  // A slow read model: without the wait the read below would come first.
  await startView("slow_view", () => delay(400));
  const opened = committed(await client.send(openAccount, { accountId: "aw1", owner: "A", initialBalance: 10 }, { awaitConsumers: ["slow_view"] }));
  assert.deepEqual([opened.appliedBy, opened.notYetAppliedBy], [["slow_view"], []]);
  assert.equal(await viewBalance("slow_view", "aw1"), 10);
  const deposited = committed(await client.send(deposit, { accountId: "aw1", amount: 5 }, { awaitConsumers: ["slow_view"], awaitTimeoutMs: 10_000 }));
  assert.deepEqual(deposited.appliedBy, ["slow_view"]);
  assert.equal(await viewBalance("slow_view", "aw1"), 15, "read right after send returns: the deposit is there");

  // The endpoint is discoverable as the domain's own micro service.
  const infos = [];
  for await (const info of await new Svcm(h.nc).client().info(appliedService(h.domain))) infos.push(info);
  assert.deepEqual([...new Set(infos.map((i) => i.metadata?.["domain"]))], [h.domain], "only the domain's consumers answer");
  const mine = infos.flatMap((i) => i.endpoints).find((e) => e.subject === `${h.domain}.applied.slow_view`);
  assert.deepEqual([mine?.name, mine?.queue_group], ["slow_view", `herald-applied-${h.domain}-slow_view`]);
});

test("the bound holds and the reply names the consumer that lagged; the command stays committed", async () => {
  let release: () => void = () => undefined;
  const blocked = new Promise<void>((resolve) => (release = resolve));
  await startView("fast_view");
  await startView("stuck_view", () => blocked);
  const boundMs = 600;
  const reply = committed(await client.send(openAccount, { accountId: "aw2", owner: "B" }, { awaitConsumers: ["fast_view", "stuck_view"], awaitTimeoutMs: boundMs }));
  assert.deepEqual(reply.appliedBy, ["fast_view"]);
  assert.deepEqual(reply.notYetAppliedBy, ["stuck_view"]);
  assert.equal(await viewBalance("fast_view", "aw2"), 0);

  // The wait alone, from a token: never shorter than the bound, never later than the documented slack.
  const started = Date.now();
  const outcome = await client.awaitConsumers(reply.token, ["stuck_view"], { timeoutMs: boundMs });
  const waited = Date.now() - started;
  assert.deepEqual(outcome, { appliedBy: [], notYetAppliedBy: ["stuck_view"] });
  assert.ok(waited >= boundMs - 5 && waited <= boundMs + AWAIT_SLACK_MS, `answered after ${waited} ms, bound ${boundMs} + ${AWAIT_SLACK_MS}`);

  release();
  assert.deepEqual(await client.awaitConsumers(reply.token, ["stuck_view"], { timeoutMs: 10_000 }), { appliedBy: ["stuck_view"], notYetAppliedBy: [] });
  assert.equal(await viewBalance("stuck_view", "aw2"), 0);
});

test("a rejected command returns at once, without waiting", async () => {
  const started = Date.now();
  const reply = await client.send(deposit, { accountId: "nobody", amount: 1 }, { awaitConsumers: ["slow_view"], awaitTimeoutMs: 20_000 });
  assert.equal(reply.status, "rejected");
  assert.ok(!("appliedBy" in reply) && !("token" in reply));
  assert.ok(Date.now() - started < 20_000);
});

test("a consumer that restarts mid-wait still answers", async () => {
  const durable = "restart_view";
  let fail: (err: Error) => void = () => undefined;
  let entered: () => void = () => undefined;
  const inHandler = new Promise<void>((resolve) => (entered = resolve));
  const first = await startView(durable, async (event) => {
    if ((event.data as { accountId: string }).accountId !== "aw3") return;
    entered();
    return new Promise<void>((_, reject) => (fail = reject));
  });
  const sending = client.send(openAccount, { accountId: "aw3", owner: "C", initialBalance: 7 }, { awaitConsumers: [durable], awaitTimeoutMs: 30_000 });
  await inHandler;
  // The instance goes away with the event unapplied (NAKed); a new one comes up and applies it.
  const stopping = first.stop();
  fail(new Error("instance going down"));
  await stopping;
  await startView(durable);
  const reply = committed(await sending);
  assert.deepEqual(reply.appliedBy, [durable]);
  assert.equal(await viewBalance(durable, "aw3"), 7);
});

test("caughtUp: a read model waits on a committed reply's token", async () => {
  const view = await startView("token_view", () => delay(200));
  const reply = committed(await client.send(openAccount, { accountId: "aw4", owner: "D", initialBalance: 3 }));
  assert.equal(await view.caughtUp(reply.token, { timeoutMs: 10_000 }), true);
  assert.equal(await viewBalance("token_view", "aw4"), 3);

  let release: () => void = () => undefined;
  const blocked = new Promise<void>((resolve) => (release = resolve));
  const stuck = await startView("token_stuck", () => blocked);
  const started = Date.now();
  assert.equal(await stuck.caughtUp(reply.token, { timeoutMs: 300 }), false, "the bound passes first");
  assert.ok(Date.now() - started >= 295);
  release();
  assert.equal(await stuck.caughtUp(reply.token, { timeoutMs: 10_000 }), true);
});

test("the applied position is recorded in the inbox transaction: the ack floor, never ahead of the inbox", async () => {
  const durable = "position_view";
  await startView(durable, async () => undefined, { positionRefreshMs: 0 });
  for (let i = 0; i < 3; i++) committed(await client.send(deposit, { accountId: "aw1", amount: 1 }, { awaitConsumers: [durable] }));
  const info = await (await jetstreamManager(h.nc)).streams.info(`${h.domain.toUpperCase()}_EVENTS`);
  const row = await h.database.db.selectFrom("herald_consumer_positions").selectAll().where("consumer", "=", durable).executeTakeFirstOrThrow();
  // The last event's transaction saw every earlier one acked: the floor is the one before it.
  assert.equal(Number(row.applied_seq), info.state.last_seq - 1);
  assert.equal(row.stream, `${h.domain.toUpperCase()}_EVENTS`);
  const inbox = await sql<{ n: number }>`SELECT count(*)::INT AS n FROM herald_inbox WHERE consumer = ${durable}`.execute(h.database.db);
  assert.equal(inbox.rows[0]!.n, info.state.last_seq, "every event of the stream is in its inbox");
});

test("bad input gets a clear error and sends nothing", async () => {
  const count = async () => Number((await sql<{ n: string }>`SELECT count(*) AS n FROM herald_commands`.execute(h.database.db)).rows[0]!.n);
  const before = await count();
  const refused = async (options: object, code: string, pattern: RegExp) => {
    const key = uniqueKey();
    await assert.rejects(client.send(openAccount, { accountId: "never", owner: "N" }, { idempotencyKey: key, ...options }), (err: unknown) => {
      assert.ok(err instanceof CommandRequestError, String(err));
      assert.equal(err.code, code);
      assert.match(err.message, pattern);
      assert.equal(err.retryable, false);
      return true;
    });
  };
  await refused({ awaitConsumers: ["no_such_view"] }, "unknown_consumer", /no durable consumer "no_such_view"/);
  await refused({ awaitConsumers: ["slow_view"], awaitTimeoutMs: 0 }, "invalid_await", /awaitTimeoutMs must be a number > 0, got 0/);
  await refused({ awaitConsumers: ["slow_view"], awaitTimeoutMs: -5 }, "invalid_await", /got -5/);
  await refused({ awaitConsumers: [] }, "invalid_await", /at least one/);
  await refused({ awaitConsumers: ["bad name"] }, "invalid_await", /not a durable name/);
  // A consumer without a database cannot tell what it applied.
  running.push(await consume({ nc: h.nc, domain: h.domain, durable: "plain_view", handle: () => undefined }));
  await refused({ awaitConsumers: ["plain_view"] }, "unknown_consumer", /no database/);
  assert.equal(await count(), before, "no command was sent");

  // A token from another domain, on the query side and the client side.
  const foreign = encodeConsistencyToken("elsewhere", [{ id: "5d1f6f52-6f1e-4bb4-9a57-1a1b52a0b6c1", subject: "elsewhere.evt.x" }]);
  const view = running[0]!;
  await assert.rejects(view.caughtUp(foreign, { timeoutMs: 100 }), (err: unknown) => err instanceof ConsistencyTokenError && err.code === "wrong_domain" && /from domain elsewhere/.test(err.message));
  await assert.rejects(client.awaitConsumers(foreign, ["slow_view"]), (err: unknown) => err instanceof CommandRequestError && err.code === "wrong_domain");
  await assert.rejects(view.caughtUp("not a token", { timeoutMs: 100 }), (err: unknown) => err instanceof ConsistencyTokenError && err.code === "invalid_token");
  const own = committed(await client.send(openAccount, { accountId: "aw5", owner: "E" })).token;
  for (const timeoutMs of [0, -1, Number.NaN]) await assert.rejects(view.caughtUp(own, { timeoutMs }), RangeError);
});
