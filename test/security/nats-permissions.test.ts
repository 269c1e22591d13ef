import assert from "node:assert/strict";
import { createClient } from "../../src/client/client.js";
import { CommandRequestError } from "../../src/client/request-error.js";
import { encodeConsistencyToken } from "../../src/protocol/consistency-token.js";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { headers, PermissionViolationError, type NatsConnection } from "@nats-io/nats-core";
import { Svcm } from "@nats-io/services";
import { bankApp } from "../../examples/bank/index.js";
import { consume, type HeraldEvent } from "../../src/consumer/index.js";
import { migrateApp } from "../../src/db/migrate-app.js";
import { connectNats } from "../../src/messaging/connection.js";
import { openStreamManager } from "../../src/messaging/stream.js";
import { startWorker, type Worker } from "../../src/worker/worker.js";
import { runCli } from "../kit/cli.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { uniqueDomain, uniqueKey } from "../kit/names.js";
import { startNatsServer, type PrivateNatsServer } from "../kit/nats-server.js";
import { waitFor } from "../kit/wait.js";

// The config `herald permissions` prints, run by a real nats-server: each role
// can do its job and is refused everything else.
const domain = uniqueDomain("perm");
const other = uniqueDomain("oth");
const stream = `${domain.toUpperCase()}_EVENTS`;
const durable = "audit_trail";
const users = {
  worker: `herald_${domain}_worker`,
  client: `herald_${domain}_client`,
  consumer: `herald_${domain}_consumer_${durable}`,
};
const passwords = new Map<string, string>();
let dir: string;
let server: PrivateNatsServer;
let database: TestDatabase<any>;
let worker: Worker | undefined;
const connections: NatsConnection[] = [];

async function connectAs(user: string): Promise<NatsConnection> {
  const nc = await connectNats({ servers: server.url, user, password: passwords.get(user)!, name: `test-${user}` });
  connections.push(nc);
  return nc;
}

/** Runs `action` and resolves with the permission error the server reports for `subject`. */
async function violation(nc: NatsConnection, subject: string, action: () => unknown): Promise<PermissionViolationError> {
  const statuses = nc.status() as AsyncIterable<{ type: string; error?: unknown }> & { stop(): void };
  const seen = (async () => {
    for await (const s of statuses) {
      if (s.type === "error" && s.error instanceof PermissionViolationError && s.error.subject === subject) return s.error;
    }
    throw new Error("status stream ended");
  })();
  try {
    await action();
    await nc.flush();
    return await Promise.race([
      seen,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no permission violation for ${subject}`)), 5000).unref()),
    ]);
  } finally {
    statuses.stop();
  }
}

/** Subscribes and resolves with the error the subscription was closed with. */
async function refusedSubscription(nc: NatsConnection, subject: string, queue?: string): Promise<unknown> {
  const sub = nc.subscribe(subject, queue ? { queue } : {});
  await nc.flush();
  return sub.closed;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "herald-perm-"));
  const generated = await runCli(["permissions", "--domain", domain, "--consumer", durable]);
  assert.equal(generated.code, 0, generated.stderr);
  let config = generated.stdout;
  for (const user of [...Object.values(users), "ops"]) passwords.set(user, randomBytes(12).toString("hex"));
  for (const user of Object.values(users)) {
    const variable = `$${user.toUpperCase()}_PASSWORD`;
    assert.ok(config.includes(variable), `${variable} in the generated config`);
    config = config.replace(variable, JSON.stringify(passwords.get(user)));
  }
  // An operator who may only ask for service discovery, to check the worker answers it.
  config = config.replace(
    "users = [",
    `users = [\n    { user: ops, password: ${JSON.stringify(passwords.get("ops"))}, permissions: { publish: ["$SRV.>"], subscribe: ["_INBOX.>"] } }`,
  );
  const json = await runCli(["permissions", "--domain", domain, "--consumer", durable, "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout);
  assert.deepEqual(parsed.users.map((u: any) => [u.role, u.user]), [["worker", users.worker], ["client", users.client], ["consumer", users.consumer]]);
  assert.deepEqual(parsed.commands, ["open_account", "deposit", "transfer", "reserve_funds"]);
  assert.ok(parsed.users.every((u: any) => !("password" in u)), "no password in the JSON");
  const file = join(dir, "nats.conf");
  await writeFile(file, config);
  server = await startNatsServer({ configFile: file });
  database = await createTestDatabase();
  await migrateApp(database.db, bankApp);
});

after(async () => {
  await worker?.stop().catch(() => undefined);
  await Promise.allSettled(connections.map((nc) => nc.close()));
  await server?.dispose();
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
});

test("worker, client and consumer users each do their job under the generated permissions", async () => {
  const workerNc = await connectAs(users.worker);
  worker = await startWorker({ app: bankApp, nc: workerNc, db: database.db, domain, outbox: { intervalMs: 100, graceMs: 500 } });

  const received: HeraldEvent[] = [];
  const consumerNc = await connectAs(users.consumer);
  const consumer = await consume({ nc: consumerNc, domain, durable, handle: (event) => void received.push(event) });

  const clientNc = await connectAs(users.client);
  const h = headers();
  h.set("Idempotency-Key", uniqueKey());
  const body = JSON.stringify({ accountId: "acc-1", owner: "Ada", initialBalance: 5 });
  const reply = (await clientNc.request(`${domain}.cmd.open_account`, body, { headers: h, timeout: 10_000 })).json<any>();
  assert.equal(reply.status, "committed", JSON.stringify(reply));

  // An unknown command is answered by the catch-all, in its own queue group.
  h.set("Idempotency-Key", uniqueKey());
  const unknown = (await clientNc.request(`${domain}.cmd.nope`, "{}", { headers: h, timeout: 10_000 })).json<any>();
  assert.equal(unknown.error.code, "unknown_command");

  await waitFor(() => received.length >= 1, { what: "the consumer to receive the event" });
  assert.equal(received[0]!.subject, `${domain}.evt.account_opened`);
  assert.deepEqual(received[0]!.data, { accountId: "acc-1", owner: "Ada", initialBalance: 5 });
  // The client may look the durable up and ask it what it applied; this one has no database to tell.
  await assert.rejects(createClient(clientNc, { domain }).awaitConsumers(encodeConsistencyToken(domain, reply.events), [durable]), (err: unknown) => {
    return err instanceof CommandRequestError && err.code === "unknown_consumer" && /no database/.test(err.message);
  });
  await consumer.stop();

  const ops = await connectAs("ops");
  const infos = [];
  for await (const info of await new Svcm(ops).client().info(domain)) infos.push(info);
  assert.equal(infos.length, 1);
  assert.equal(infos[0]!.name, domain);
});

test("each role is refused what is outside its job", async () => {
  const workerNc = await connectAs(users.worker);
  const clientNc = await connectAs(users.client);
  const consumerNc = await connectAs(users.consumer);

  // The worker cannot publish another domain's events, nor take commands outside its queue groups.
  const forged = await violation(workerNc, `${other}.evt.forged`, () => workerNc.publish(`${other}.evt.forged`, "{}"));
  assert.equal(forged.operation, "publish");
  assert.ok((await refusedSubscription(workerNc, `${other}.cmd.>`, `herald-${other}`)) instanceof PermissionViolationError);
  assert.ok((await refusedSubscription(workerNc, `${domain}.cmd.>`)) instanceof PermissionViolationError, "no plain subscription to commands");
  await violation(workerNc, `$JS.API.STREAM.DELETE.${stream}`, () => workerNc.publish(`$JS.API.STREAM.DELETE.${stream}`));

  // The client cannot read anyone's commands nor forge events.
  const eavesdrop = await refusedSubscription(clientNc, `${other}.cmd.>`);
  assert.ok(eavesdrop instanceof PermissionViolationError);
  assert.equal(eavesdrop.operation, "subscription");
  assert.ok((await refusedSubscription(clientNc, `${domain}.cmd.>`)) instanceof PermissionViolationError);
  await violation(clientNc, `${domain}.evt.forged`, () => clientNc.publish(`${domain}.evt.forged`, "{}"));
  await violation(clientNc, `${other}.cmd.open_account`, () => clientNc.publish(`${other}.cmd.open_account`, "{}"));

  // The consumer reaches only its own durable: no stream admin, no other durable, no events.
  await violation(consumerNc, `$JS.API.STREAM.INFO.${stream}`, () => consumerNc.publish(`$JS.API.STREAM.INFO.${stream}`));
  await violation(consumerNc, `$JS.API.CONSUMER.CREATE.${stream}.intruder`, () => consumerNc.publish(`$JS.API.CONSUMER.CREATE.${stream}.intruder`));
  await violation(consumerNc, `${domain}.evt.forged`, () => consumerNc.publish(`${domain}.evt.forged`, "{}"));
  assert.ok((await refusedSubscription(consumerNc, `${domain}.evt.>`)) instanceof PermissionViolationError);

  // No role may read the account's JetStream info: Herald never asks for it.
  for (const nc of [workerNc, clientNc, consumerNc]) {
    const refused = await violation(nc, "$JS.API.INFO", () => nc.publish("$JS.API.INFO"));
    assert.equal(refused.operation, "publish");
  }
  // Nor anything else of the JetStream API outside its job.
  for (const subject of [
    `$JS.API.STREAM.UPDATE.${stream}`,
    `$JS.API.STREAM.PURGE.${stream}`,
    `$JS.API.STREAM.MSG.DELETE.${stream}`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    "$JS.API.STREAM.LIST",
    "$JS.API.STREAM.NAMES",
    `$JS.API.STREAM.CREATE.${other.toUpperCase()}_EVENTS`,
    `$JS.API.CONSUMER.CREATE.${stream}.${durable}`,
    `$JS.API.CONSUMER.DELETE.${stream}.${durable}`,
  ]) {
    await violation(workerNc, subject, () => workerNc.publish(subject));
  }
  for (const subject of [
    "$JS.API.STREAM.LIST",
    `$JS.API.CONSUMER.LIST.${stream}`,
    `$JS.API.CONSUMER.DELETE.${stream}.${durable}`,
    `$JS.API.CONSUMER.INFO.${stream}.intruder`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.intruder`,
    `$JS.ACK.${stream}.intruder.1.1.1.1.0`,
    `${domain}.dlq.intruder`,
    `${domain}.cmd.open_account`,
  ]) {
    await violation(consumerNc, subject, () => consumerNc.publish(subject));
  }
  // A client may look a durable up (awaitConsumers checks it exists), never list, change or read through one.
  for (const subject of [`$JS.API.CONSUMER.LIST.${stream}`, `$JS.API.CONSUMER.DELETE.${stream}.${durable}`, `$JS.API.CONSUMER.MSG.NEXT.${stream}.${durable}`, `$JS.API.STREAM.INFO.${stream}`, `$SRV.PING`]) {
    await violation(clientNc, subject, () => clientNc.publish(subject));
  }
  assert.ok((await refusedSubscription(consumerNc, `${domain}.cmd.>`)) instanceof PermissionViolationError);
  assert.ok((await refusedSubscription(workerNc, `${domain}.dlq.>`)) instanceof PermissionViolationError);

  // Nothing forged reached the stream: only the one real event is there.
  const jsm = await openStreamManager(workerNc);
  assert.equal((await jsm.streams.info(stream)).state.messages, 1);
});
