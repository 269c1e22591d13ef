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
import { uniqueKey } from "../kit/names.js";
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
