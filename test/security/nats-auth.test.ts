import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { headers, nkeys, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { bankApp } from "../../examples/bank/index.js";
import { natsOptionsFromConfig } from "../../src/cli/connection-options.js";
import { parseConfig } from "../../src/config.js";
import { migrateApp } from "../../src/db/migrate-app.js";
import { connectNats, type NatsOptions } from "../../src/messaging/connection.js";
import { runCli, spawnCli } from "../kit/cli.js";
import { createTestDatabase } from "../kit/database.js";
import { uniqueDomain, uniqueKey } from "../kit/names.js";
import { startNatsServer, type PrivateNatsServer } from "../kit/nats-server.js";
import { operatorSetup } from "./nats-jwt.js";
import { makeCertificates, type TestCertificates } from "./tls-certs.js";

let dir: string;
let certs: TestCertificates;
const servers: PrivateNatsServer[] = [];
const connections: NatsConnection[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "herald-auth-"));
  certs = await makeCertificates(dir);
});
after(async () => {
  await Promise.allSettled(connections.map((nc) => nc.close()));
  await Promise.allSettled(servers.map((s) => s.dispose()));
  await rm(dir, { recursive: true, force: true });
});

async function serverWith(name: string, config: string): Promise<{ server: PrivateNatsServer; file: string }> {
  const file = join(dir, `${name}.conf`);
  await writeFile(file, config);
  const server = await startNatsServer({ configFile: file });
  servers.push(server);
  return { server, file };
}

async function connected(options: NatsOptions): Promise<NatsConnection> {
  const nc = await connectNats({ ...options, name: "herald-auth-test" });
  connections.push(nc);
  return nc;
}

/** A request answered by the connection itself: proves it is connected and authorized. */
async function roundTrip(nc: NatsConnection): Promise<void> {
  const subject = `echo.${uniqueKey("s")}`;
  const sub = nc.subscribe(subject, { max: 1, callback: (_err, msg) => void msg.respond(msg.data) });
  assert.equal((await nc.request(subject, "ping", { timeout: 5000 })).string(), "ping");
  sub.unsubscribe();
}

/** Resolves on the connection's next status of `type`. */
function nextStatus(nc: NatsConnection, type: string, timeoutMs = 20_000): Promise<void> {
  const statuses = nc.status() as AsyncIterable<{ type: string }> & { stop(): void };
  const seen = (async () => {
    for await (const s of statuses) if (s.type === type) return;
  })();
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no ${type} within ${timeoutMs} ms`)), timeoutMs).unref());
  return Promise.race([seen, timeout]).finally(() => statuses.stop());
}

const tlsBlock = (c: TestCertificates) =>
  `tls {\n  cert_file: ${JSON.stringify(c.serverCert)}\n  key_file: ${JSON.stringify(c.serverKey)}\n  ca_file: ${JSON.stringify(c.ca)}\n  verify: true\n  timeout: 2\n}\n`;

test("mutual TLS from the environment's NATS_TLS_* files; refused without client certificate or CA", async () => {
  const { server } = await serverWith("tls", tlsBlock(certs));
  const url = `tls://127.0.0.1:${server.port}`;
  const config = parseConfig({ NATS_URL: url, NATS_TLS_CA_FILE: certs.ca, NATS_TLS_CERT_FILE: certs.clientCert, NATS_TLS_KEY_FILE: certs.clientKey });
  const nc = await connected(natsOptionsFromConfig(config));
  await roundTrip(nc);

  // The server drops the handshake without a client certificate; a short timeout sees that.
  await assert.rejects(connect({ servers: url, tls: { caFile: certs.ca }, timeout: 2000, reconnect: false }), "no client certificate");
  await assert.rejects(connectNats({ servers: url }), "server certificate not trusted without the CA");
  await assert.rejects(connectNats({ servers: `nats://127.0.0.1:${server.port}` }), "a plain URL cannot skip TLS");
});

test("a rotated NKey seed file is used on the next reconnect", async () => {
  const [first, second] = [nkeys.createUser(), nkeys.createUser()];
  const seedFile = join(dir, "user.nk");
  const config = (kp: typeof first) => `authorization {\n  users = [ { nkey: ${kp.getPublicKey()} } ]\n}\n`;
  await writeFile(seedFile, `# the worker's NKey seed\n${new TextDecoder().decode(first.getSeed())}\n`);
  const { server, file } = await serverWith("nkey", config(first));
  const nc = await connected({ servers: server.url, nkeySeedFile: seedFile });
  await roundTrip(nc);

  // Rotate: the server now knows only the new key, the file holds only the new seed.
  const oldSeedFile = join(dir, "old.nk");
  await writeFile(oldSeedFile, first.getSeed());
  await writeFile(seedFile, second.getSeed());
  await writeFile(file, config(second));
  const reconnected = nextStatus(nc, "reconnect");
  await server.stop();
  await server.start();
  await reconnected;
  await roundTrip(nc);
  await assert.rejects(connectNats({ servers: server.url, nkeySeedFile: oldSeedFile }), /authorization/i);
});

test("a rotated .creds (JWT) file is used on the next reconnect", async () => {
  const first = operatorSetup();
  const credsFile = join(dir, "user.creds");
  await writeFile(credsFile, first.creds);
  const { server, file } = await serverWith("jwt", first.config);
  const nc = await connected({ servers: server.url, credsFile });
  await roundTrip(nc);

  // A new operator and account: the old credentials are worthless afterwards.
  const second = operatorSetup();
  await writeFile(credsFile, second.creds);
  await writeFile(file, second.config);
  const reconnected = nextStatus(nc, "reconnect");
  await server.stop();
  await server.start();
  await reconnected;
  await roundTrip(nc);
});

test("a seed or creds file briefly missing or half written at a reconnect: the last good copy is used", async () => {
  const user = nkeys.createUser();
  const seedFile = join(dir, "briefly-missing.nk");
  await writeFile(seedFile, user.getSeed());
  const { server } = await serverWith("nkey-missing", `authorization {\n  users = [ { nkey: ${user.getPublicKey()} } ]\n}\n`);
  const nc = await connected({ servers: server.url, nkeySeedFile: seedFile });
  await roundTrip(nc);

  // Mid-rotation: the file is gone when NATS comes back; nats.js would close the connection for good on a throw.
  await rm(seedFile);
  let reconnected = nextStatus(nc, "reconnect");
  await server.stop();
  await server.start();
  await reconnected;
  await roundTrip(nc);
  // Then half written (no seed line yet): still the last good copy.
  await writeFile(seedFile, "# rotating…\nSUAB");
  reconnected = nextStatus(nc, "reconnect");
  await server.stop();
  await server.start();
  await reconnected;
  await roundTrip(nc);
  assert.equal(nc.isClosed(), false);
  // Without a good copy ever read, a missing file is one clear error naming the file, not the secret.
  await assert.rejects(connectNats({ servers: server.url, nkeySeedFile: join(dir, "never.nk") }), /NKey seed file .*never\.nk cannot be read \(ENOENT\)/);

  const jwt = operatorSetup();
  const credsFile = join(dir, "briefly-missing.creds");
  await writeFile(credsFile, jwt.creds);
  const { server: jwtServer } = await serverWith("jwt-missing", jwt.config);
  const viaCreds = await connected({ servers: jwtServer.url, credsFile });
  await roundTrip(viaCreds);
  await rm(credsFile);
  reconnected = nextStatus(viaCreds, "reconnect");
  await jwtServer.stop();
  await jwtServer.start();
  await reconnected;
  await roundTrip(viaCreds);
});

test("herald start connects with NATS_NKEY_SEED_FILE over TLS and serves a request", async () => {
  const [workerKey, clientKey] = [nkeys.createUser(), nkeys.createUser()];
  const workerSeed = join(dir, "worker.nk");
  const clientSeed = join(dir, "client.nk");
  await writeFile(workerSeed, workerKey.getSeed());
  await writeFile(clientSeed, clientKey.getSeed());
  const users = `authorization {\n  users = [\n    { nkey: ${workerKey.getPublicKey()} }\n    { nkey: ${clientKey.getPublicKey()} }\n  ]\n}\n`;
  const { server } = await serverWith("cli", tlsBlock(certs) + users);
  const url = `tls://127.0.0.1:${server.port}`;
  const tls = { caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey };
  const database = await createTestDatabase();
  try {
    await migrateApp(database.db, bankApp);
    const domain = uniqueDomain("tls");
    const env = {
      DATABASE_URL: database.url,
      NATS_URL: url,
      NATS_NKEY_SEED_FILE: workerSeed,
      NATS_TLS_CA_FILE: certs.ca,
      NATS_TLS_CERT_FILE: certs.clientCert,
      NATS_TLS_KEY_FILE: certs.clientKey,
      LOG_LEVEL: "warn",
    };
    const worker = spawnCli(["start", "--domain", domain], { env });
    try {
      await worker.waitForLine(/herald worker ready/);
      const client = await connected({ servers: url, nkeySeedFile: clientSeed, tls });
      const h = headers();
      h.set("Idempotency-Key", uniqueKey());
      const body = JSON.stringify({ accountId: "tls-1", owner: "Tess" });
      const reply = (await client.request(`${domain}.cmd.open_account`, body, { headers: h, timeout: 10_000 })).json<any>();
      assert.equal(reply.status, "committed");
    } finally {
      worker.child.kill("SIGTERM");
    }
    assert.equal(await worker.stopped(15_000), 0, worker.stderr());
  } finally {
    await database.drop();
  }
});

test("credentials that do not fit together are one clear line, without the secret", async () => {
  const secret = "tok-3f9a1c-very-secret";
  const both = await runCli(["start"], { env: { NATS_TOKEN: secret, NATS_USER: "someone", NATS_PASSWORD: "pw-77c1e-secret" } });
  assert.equal(both.code, 1);
  assert.match(both.stderr, /^herald start: use one NATS authentication/);
  assert.doesNotMatch(both.stderr + both.stdout, /tok-3f9a1c|pw-77c1e/);

  const half = await runCli(["start"], { env: { NATS_USER: "someone" } });
  assert.equal(half.code, 1);
  assert.match(half.stderr, /user and password go together/);

  const { server } = await serverWith("seedless", `authorization {\n  users = [ { nkey: ${nkeys.createUser().getPublicKey()} } ]\n}\n`);
  const missing = await runCli(["start"], { env: { NATS_NKEY_SEED_FILE: join(dir, "no-such.nk"), NATS_URL: server.url } });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /NKey seed file .*no-such\.nk cannot be read \(ENOENT\)/);
});
