import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { runCli, spawnCli } from "../kit/cli.js";
import { connectSharedNats, freePort } from "../kit/nats-server.js";
import { uniqueDomain } from "../kit/names.js";
import { makeSelfSignedCert, type SelfSignedCert } from "../kit/tls-cert.js";

// `herald cdc start|setup --source cockroachdb` through the built CLI, as docker-compose runs it.

const AUTH = "Basic c2VjcmV0LWZvci10ZXN0cw==";
let dir: string;
let cert: SelfSignedCert;
let nc: NatsConnection;
const domain = uniqueDomain("crcli");
const stream = `${domain.toUpperCase()}_CDC`;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "herald-cdc-cli-"));
  cert = await makeSelfSignedCert();
  await writeFile(join(dir, "server.crt"), cert.cert);
  await writeFile(join(dir, "server.key"), cert.key);
  nc = await connectSharedNats();
});

after(async () => {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(stream).catch(() => undefined);
  await nc.close();
  await rm(dir, { recursive: true, force: true });
});

function post(port: number, body: string, auth: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path: "/changefeed", method: "POST", ca: cert.cert, headers: { "content-type": "application/json", ...(auth ? { authorization: auth } : {}) } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

test("cdc start --source cockroachdb serves the webhook: an authorized batch lands in the stream, a bad header changes nothing", async () => {
  const port = await freePort();
  const bridge = spawnCli(["cdc", "start", "--source", "cockroachdb", "--domain", domain, "--table", "bank_accounts"], {
    env: {
      HERALD_CDC_WEBHOOK_HOST: "127.0.0.1",
      HERALD_CDC_WEBHOOK_PORT: String(port),
      HERALD_CDC_WEBHOOK_CERT_FILE: join(dir, "server.crt"),
      HERALD_CDC_WEBHOOK_KEY_FILE: join(dir, "server.key"),
      HERALD_CDC_WEBHOOK_AUTH_HEADER: AUTH,
    },
  });
  try {
    const ready = await bridge.waitForLine(/^herald cdc ready:/);
    assert.match(ready, new RegExp(`source=cockroachdb webhook=127\\.0\\.0\\.1:${port} tables=bank_accounts stream=${stream}`));
    const row = { after: { id: "alice", balance: 100 }, before: null, key: ["alice"], topic: "bank_accounts", updated: "1700000000000000000.0000000001" };
    const body = JSON.stringify({ payload: [row], length: 1 });
    assert.equal(await post(port, body, "Basic wrong"), 401);
    const jsm = await jetstreamManager(nc);
    assert.equal((await jsm.streams.info(stream)).state.messages, 0, "a refused request publishes nothing");
    assert.equal(await post(port, body, AUTH), 200);
    const info = await jsm.streams.info(stream);
    assert.equal(info.state.messages, 1, "the 2xx comes after the PubAck");
    const msg = await jsm.streams.getMessage(stream, { last_by_subj: `${domain}.cdc.bank_accounts.insert` });
    assert.ok(msg, "the change is on its insert subject");
    const change = msg.json<{ key: Record<string, unknown>; after: Record<string, unknown> }>();
    assert.deepEqual(change.key, { id: "alice" });
    assert.equal(change.after.balance, 100);
    assert.equal(await post(port, body, AUTH), 200, "a redelivered batch is accepted again");
    assert.equal((await jsm.streams.info(stream)).state.messages, 1, "and its copy dropped by the msg-id");
    bridge.child.kill("SIGTERM");
    assert.equal(await bridge.stopped(20_000), 0, bridge.stderr());
  } finally {
    if (bridge.child.exitCode === null) bridge.child.kill("SIGKILL");
  }
});

test("cdc setup --source cockroachdb prints the CREATE CHANGEFEED; without a CA it says what to set and prints nothing", async () => {
  const env = {
    HERALD_CDC_WEBHOOK_URL: "https://cdc.internal:8443/changefeed",
    HERALD_CDC_WEBHOOK_CA_FILE: join(dir, "server.crt"),
    HERALD_CDC_WEBHOOK_AUTH_HEADER: AUTH,
  };
  const setup = await runCli(["cdc", "setup", "--source", "cockroachdb", "--table", "bank_accounts"], { env });
  assert.equal(setup.code, 0, setup.stderr);
  assert.match(setup.stdout, /CREATE CHANGEFEED FOR TABLE bank_accounts\s+INTO 'webhook-https:\/\/cdc\.internal:8443\/changefeed\?ca_cert=/);
  assert.match(setup.stdout, /updated/);
  assert.match(setup.stdout, /resolved/);
  assert.ok(setup.stdout.includes(AUTH), "the changefeed sends the header the bridge checks");
  const missing = await runCli(["cdc", "setup", "--source", "cockroachdb", "--table", "bank_accounts"], {
    env: { ...env, HERALD_CDC_WEBHOOK_CA_FILE: undefined, HERALD_CDC_WEBHOOK_CERT_FILE: undefined },
  });
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /HERALD_CDC_WEBHOOK_CA_FILE/);
  assert.equal(missing.stdout, "");
  const status = await runCli(["cdc", "status", "--source", "cockroachdb"]);
  assert.equal(status.code, 2);
  assert.match(status.stderr, /SHOW CHANGEFEED JOBS/);
});
