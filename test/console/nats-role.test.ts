import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { headers, PermissionViolationError, type NatsConnection } from "@nats-io/nats-core";
import { bankApp } from "../../examples/bank/index.js";
import { migrateApp } from "../../src/db/migrate-app.js";
import { connectNats } from "../../src/messaging/connection.js";
import { readEvents } from "../../src/operations/events.js";
import { streamStatus } from "../../src/operations/stream-status.js";
import { discoverWorkers } from "../../src/operations/workers.js";
import { startWorker, type Worker } from "../../src/worker/worker.js";
import { runCli } from "../kit/cli.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { uniqueDomain, uniqueKey } from "../kit/names.js";
import { startNatsServer, type PrivateNatsServer } from "../kit/nats-server.js";
import { waitFor } from "../kit/wait.js";

// The console's NATS user as `herald permissions --console` prints it, on a real
// nats-server: it reads what the overview and the live view need, and nothing more.
const domain = uniqueDomain("cons");
const stream = `${domain.toUpperCase()}_EVENTS`;
const users = { worker: `herald_${domain}_worker`, client: `herald_${domain}_client`, console: `herald_${domain}_console` };
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

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "herald-console-perm-"));
  const generated = await runCli(["permissions", "--domain", domain, "--console"]);
  assert.equal(generated.code, 0, generated.stderr);
  let config = generated.stdout;
  for (const user of Object.values(users)) {
    passwords.set(user, randomBytes(12).toString("hex"));
    config = config.replace(`$${user.toUpperCase()}_PASSWORD`, JSON.stringify(passwords.get(user)));
  }
  // The default consumer role's password is not used here.
  config = config.replace(/\$HERALD_[A-Z0-9_]+_PASSWORD/g, JSON.stringify(randomBytes(12).toString("hex")));
  const file = join(dir, "nats.conf");
  await writeFile(file, config);
  server = await startNatsServer({ configFile: file });
  database = await createTestDatabase();
  await migrateApp(database.db, bankApp);
  worker = await startWorker({ app: bankApp, nc: await connectAs(users.worker), db: database.db, domain });
  const h = headers();
  h.set("Idempotency-Key", uniqueKey());
  const client = await connectAs(users.client);
  const reply = (await client.request(`${domain}.cmd.open_account`, JSON.stringify({ accountId: "c1", owner: "C" }), { headers: h, timeout: 10_000 })).json<any>();
  assert.equal(reply.status, "committed");
});

after(async () => {
  await worker?.stop().catch(() => undefined);
  await Promise.allSettled(connections.map((nc) => nc.close()));
  await server?.dispose();
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
});

test("the console's user discovers the workers, reads the stream, its consumers and new events", async () => {
  const nc = await connectAs(users.console);
  const workers = await discoverWorkers(nc, domain);
  assert.equal(workers.length, 1);
  assert.equal(workers[0]!.stats?.committed, 1);
  const status = await waitFor(async () => {
    const s = await streamStatus(nc, stream);
    return s.lastSeq === 1 ? s : undefined;
  }, { what: "the event on the stream" });
  assert.equal(status.exists, true);
  const seen: number[] = [];
  await readEvents({ nc, stream, onEvent: (e) => void seen.push(e.seq) });
  assert.deepEqual(seen, [1]);
});

test("the read-only console's user may not publish the domain's events", async () => {
  const nc = await connectAs(users.console);
  await assert.rejects(
    jetstream(nc).publish(`${domain}.evt.account_opened`, "{}", { timeout: 2000 }),
    (err: unknown) => {
      for (let e: unknown = err; e instanceof Error; e = e.cause) if (e instanceof PermissionViolationError || /permission/i.test(e.message)) return true;
      return false;
    },
  );
});
