import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { headers } from "@nats-io/nats-core";
import type { NatsConnection } from "@nats-io/nats-core";
import { Svcm } from "@nats-io/services";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { runCli, spawnCli } from "../kit/cli.js";
import { connectSharedNats, freePort } from "../kit/nats-server.js";
import { uniqueDomain, uniqueKey } from "../kit/names.js";

let database: TestDatabase<any>;
let nc: NatsConnection;
const domain = uniqueDomain("cli");

before(async () => {
  database = await createTestDatabase();
  nc = await connectSharedNats();
});
after(async () => {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(`${domain.toUpperCase()}_EVENTS`).catch(() => undefined);
  await nc.close();
  await database.drop();
});

test("npx herald migrate applies the migrations once, then finds nothing to do", async () => {
  const first = await runCli(["migrate"], { env: { DATABASE_URL: database.url }, command: ["npx", "--no-install", "herald"] });
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /applied 7 migration\(s\): 0001_herald_core, 0002_consumers, 0003_identity, 0004_consumer_positions, 0005_operator_actions, bank\/0001_bank_accounts, bank\/0002_bank_reservations/);
  const again = await runCli(["migrate"], { env: { DATABASE_URL: database.url } });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /up to date/);
});

test("herald start serves an outside client, answers $SRV.INFO and stops on SIGTERM", async () => {
  assert.equal((await runCli(["migrate"], { env: { DATABASE_URL: database.url } })).code, 0);
  // Run the binary itself: a signal to an npx wrapper does not reach the worker it started.
  const worker = spawnCli(["start", "--domain", domain], { env: { DATABASE_URL: database.url, LOG_LEVEL: "warn" } });
  try {
    const ready = await worker.waitForLine(/herald worker ready/);
    assert.match(ready, new RegExp(`domain=${domain} stream=${domain.toUpperCase()}_EVENTS database=postgresql`));

    const h = headers();
    h.set("Idempotency-Key", uniqueKey());
    const body = JSON.stringify({ accountId: "outside", owner: "Outside Client", initialBalance: 10 });
    const reply = (await nc.request(`${domain}.cmd.open_account`, body, { headers: h, timeout: 10_000 })).json<any>();
    assert.equal(reply.status, "committed");
    assert.deepEqual(reply.result, { accountId: "outside", balance: 10 });
    const row = await database.db.selectFrom("bank_accounts").selectAll().where("id", "=", "outside").executeTakeFirst();
    assert.equal(row?.balance, 10);

    const infos = [];
    for await (const info of await new Svcm(nc).client().info(domain)) infos.push(info);
    assert.deepEqual(infos[0]!.endpoints.map((e) => e.name).sort(), ["deposit", "open_account", "reserve_funds", "transfer"]);
  } finally {
    worker.child.kill("SIGTERM");
  }
  assert.equal(await worker.stopped(15_000), 0, worker.stderr());
  assert.match(worker.stderr(), /herald worker stopped \(SIGTERM\)/);
});

test("bad configuration and unreachable services give one clear line and a non-zero exit", async () => {
  const badEnv = await runCli(["start"], { env: { HERALD_TX_MAX_ATTEMPTS: "lots", NATS_URL: "http://nope" } });
  assert.equal(badEnv.code, 1);
  assert.match(badEnv.stderr, /invalid configuration/);
  assert.match(badEnv.stderr, /HERALD_TX_MAX_ATTEMPTS/);
  assert.match(badEnv.stderr, /NATS_URL/);
  assert.doesNotMatch(badEnv.stderr, /\n\s+at /, "no stack trace");

  const port = await freePort();
  const noDb = await runCli(["migrate"], { env: { DATABASE_URL: `postgresql://root@127.0.0.1:${port}/x` } });
  assert.equal(noDb.code, 1);
  assert.match(noDb.stderr, /^herald migrate: .*ECONNREFUSED/);
  assert.doesNotMatch(noDb.stderr, /\n\s+at /);

  const unknown = await runCli(["frobnicate"]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);

  const badApp = await runCli(["migrate", "--app", "./no/such/module.js"], { env: { DATABASE_URL: database.url } });
  assert.equal(badApp.code, 1);
  assert.match(badApp.stderr, /cannot load app module/);

  const help = await runCli(["start", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: herald start/);
});
