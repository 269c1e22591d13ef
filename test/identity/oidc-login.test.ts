import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { after, before, test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { bankApp } from "../../examples/bank/index.js";
import { createClient } from "../../src/client/client.js";
import { consume, type HeraldConsumer } from "../../src/consumer/index.js";
import { connectNats } from "../../src/messaging/connection.js";
import { startWorker, type Worker } from "../../src/worker/worker.js";
import { runCli, spawnCli } from "../kit/cli.js";
import { uniqueKey } from "../kit/names.js";
import { freePort } from "../kit/nats-server.js";
import { waitFor } from "../kit/wait.js";
import { startIdentityFixture, workloadsOf, type IdentityFixture } from "./fixture.js";

let f: IdentityFixture;
const connections: NatsConnection[] = [];
let worker: Worker | undefined;
let consumer: HeraldConsumer | undefined;
before(async () => {
  f = await startIdentityFixture();
});
after(async () => {
  await consumer?.stop().catch(() => undefined);
  await worker?.stop().catch(() => undefined);
  await Promise.allSettled(connections.map((nc) => nc.close()));
  await f?.close();
});

const jtiOf = (token: string): string => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()).jti;
const issuedFor = async (subject: string) =>
  f.database.db.selectFrom("herald_identity_issuances").select(["nkey", "token_id", "expires_at"]).where("subject", "=", subject).orderBy("issued_at").execute();

async function login(role: string, tokenFile: string): Promise<NatsConnection> {
  const nc = await connectNats({ servers: f.nats.url, name: `test-${role}`, oidc: f.login(tokenFile, role) });
  connections.push(nc);
  return nc;
}

test("a worker, a client and a consumer run end to end on OIDC credentials; the worker survives a token file replaced mid-run and a server restart", async () => {
  const w = workloadsOf(f.domain);
  const workerToken = await f.trusted.token(w.worker);
  const workerFile = await f.tokenFile(workerToken, "worker-token");
  worker = await startWorker({ app: bankApp, nc: await login("worker", workerFile), db: f.database.db, domain: f.domain, prune: false });
  const client = createClient(await login("client", await f.tokenFile(await f.trusted.token(w.client))), { domain: f.domain, timeoutMs: 10_000 });
  const seen: string[] = [];
  consumer = await consume({
    nc: await login("consumer:ledger", await f.tokenFile(await f.trusted.token(w.ledger))),
    db: f.database.db,
    domain: f.domain,
    durable: "ledger",
    prune: false,
    handle: (event) => void seen.push(event.type),
  });

  const first = await client.sendRaw("open_account", { accountId: "alice", owner: "Alice", initialBalance: 10 }, { idempotencyKey: uniqueKey() });
  assert.equal(first.status, "committed", JSON.stringify(first));
  await waitFor(() => seen.length >= 1, { what: "the consumer applying the event" });

  // The projected token rotates: a new file, then the server goes away and comes back.
  const rotated = await f.trusted.token(w.worker);
  assert.notEqual(jtiOf(rotated), jtiOf(workerToken));
  await writeFile(workerFile, `${rotated}\n`);
  await f.nats.stop();
  await f.nats.start();
  await waitFor(async () => (await issuedFor(w.worker)).some((r) => r.token_id === jtiOf(rotated)), { what: "a fetch with the new token on reconnect", timeoutMs: 20_000 });

  const second = await client.sendRaw("deposit", { accountId: "alice", amount: 5 }, { idempotencyKey: uniqueKey() });
  assert.equal(second.status, "committed", JSON.stringify(second));
  await waitFor(() => seen.length >= 2, { what: "the second event applied after the restart", timeoutMs: 20_000 });
  const rows = await issuedFor(w.worker);
  assert.equal(new Set(rows.map((r) => r.nkey)).size, 1, "one NKey pair per connection, kept in memory");
});

test("the CDC bridge's connection (a Kubernetes-style token) fetches a fresh JWT before expiry and keeps publishing", async () => {
  const w = workloadsOf(f.domain);
  const nc = await login("cdc", await f.tokenFile(await f.trusted.token(w.cdc)));
  const stream = `${f.domain.toUpperCase()}_CDC`;
  await (await jetstreamManager(nc, { checkAPI: false })).streams.add({ name: stream, subjects: [`${f.domain}.cdc.>`] });
  const js = jetstream(nc, { checkAPI: false });
  const [firstIssued] = await issuedFor(w.cdc);
  assert.ok(firstIssued, "the first JWT was issued");
  // The mapping gives 6 s: past it the connection must still publish, on a JWT fetched before the first expired.
  await waitFor(() => Date.now() > firstIssued.expires_at.getTime() + 500, { what: "the first JWT's expiry", timeoutMs: 10_000 });
  const ack = await js.publish(`${f.domain}.cdc.accounts`, "{}", { timeout: 5000 });
  assert.equal(ack.stream, stream);
  const rows = await issuedFor(w.cdc);
  assert.ok(rows.length >= 2, `refreshed before expiry (${rows.length} issuances)`);
  assert.ok(rows[1]!.expires_at > firstIssued.expires_at);
});

test("through the CLI: identity serve, a worker started with NATS_OIDC_TOKEN_FILE, and identity revoke shutting it out", async () => {
  await worker?.stop();
  worker = undefined;
  const w = workloadsOf(f.domain);
  const port = await freePort();
  const serve = spawnCli(["identity", "serve", "--policy", f.files.policy, "--dir", f.dir], {
    env: { DATABASE_URL: f.database.url, HERALD_IDENTITY_CERT_FILE: f.files.cert, HERALD_IDENTITY_KEY_FILE: f.files.key, HERALD_IDENTITY_PORT: String(port), LOG_LEVEL: "warn" },
  });
  const login = { NATS_URL: f.nats.url, HERALD_IDENTITY_CA_FILE: f.caFile, HERALD_DOMAIN: f.domain, DATABASE_URL: f.database.url, LOG_LEVEL: "warn" };
  let start: ReturnType<typeof spawnCli> | undefined;
  try {
    const url = (await serve.waitForLine(/identity issuer listening on https:/)).split(" on ")[1]!;
    start = spawnCli(["start"], { env: { ...login, HERALD_IDENTITY_URL: url, NATS_OIDC_TOKEN_FILE: await f.tokenFile(await f.trusted.token(w.worker)) } });
    await start.waitForLine(/herald worker ready/);
    const client = createClient(await connectNats({ servers: f.nats.url, oidc: { ...f.login(await f.tokenFile(await f.trusted.token(w.client)), "client"), issuerUrl: url } }).then((nc) => (connections.push(nc), nc)), { domain: f.domain, timeoutMs: 10_000 });
    const reply = await client.sendRaw("open_account", { accountId: "bob", owner: "Bob" }, { idempotencyKey: uniqueKey() });
    assert.equal(reply.status, "committed", JSON.stringify(reply));

    const revoked = await runCli(["identity", "revoke", "--subject", w.worker, "--dir", f.dir], { env: { DATABASE_URL: f.database.url, NATS_URL: f.nats.url } });
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, /^revoked [1-9]\d* key\(s\) of subject /);
    // Closed by the server, the worker asks for new credentials and is refused.
    await waitFor(() => /403 revoked/.test(start!.stderr()), { what: "the worker refused new credentials", timeoutMs: 15_000 });
    assert.doesNotMatch(serve.stderr() + start.stderr(), /eyJ[A-Za-z0-9_-]{20,}\./, "no token or JWT in the logs");
  } finally {
    start?.child.kill("SIGKILL");
    serve.child.kill("SIGTERM");
    await serve.stopped(10_000).catch(() => undefined);
    await start?.exited;
  }
});
