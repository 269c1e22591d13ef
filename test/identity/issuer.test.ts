import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { jwtAuthenticator } from "@nats-io/nats-core";
import { createUser } from "@nats-io/nkeys";
import { connect } from "@nats-io/transport-node";
import { decode } from "@nats-io/jwt";
import { generateKeyPair, SignJWT } from "jose";
import { sql } from "kysely";
import { MANIFEST_FILE, readManifest } from "../../src/identity/nats-account.js";
import { MAX_LIFETIME_SECONDS } from "../../src/identity/policy.js";
import { revokeIdentity } from "../../src/identity/revocation.js";
import { REVOCATION_CLOCK_SLACK_SECONDS } from "../../src/identity/revocation-list.js";
import { fetchNatsCredentials, IdentityLoginError } from "../../src/messaging/oidc-login.js";
import { waitFor } from "../kit/wait.js";
import { startIdentityFixture, workloadsOf, type IdentityFixture } from "./fixture.js";

let f: IdentityFixture;
let ca: string;
before(async () => {
  f = await startIdentityFixture();
  ca = await readFile(f.caFile, "utf8");
});
after(() => f?.close());

/** A raw request to the issuer, any headers and body. */
function post(headers: Record<string, string>, body: string | Buffer, path = "/v1/nats/credentials", method = "POST"): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, f.issuer.url), { method, headers, ca, agent: false }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, json: text.startsWith("{") ? JSON.parse(text) : text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const ask = (token: string, body: Record<string, unknown>) =>
  post({ authorization: `Bearer ${token}`, "content-type": "application/json" }, JSON.stringify(body));
const issued = async () => Number((await sql<{ n: number }>`SELECT count(*)::INT AS n FROM herald_identity_issuances`.execute(f.database.db)).rows[0]!.n);
const publicKey = () => createUser().getPublicKey();

test("a client token gets credentials that send <domain>.cmd.* but cannot read events or touch another domain", async () => {
  const w = workloadsOf(f.domain);
  const client = await f.connectAs(await f.trusted.token(w.client), "client");
  const worker = await f.connectAs(await f.trusted.token(w.worker), "worker");
  try {
    const seen: string[] = [];
    const sub = worker.nc.subscribe(`${f.domain}.cmd.>`, { queue: `herald-${f.domain}`, callback: (_e, m) => void seen.push(m.subject) });
    await worker.nc.flush();
    client.nc.publish(`${f.domain}.cmd.open_account`, "{}");
    await waitFor(() => seen.includes(`${f.domain}.cmd.open_account`), { what: "the command reaching the worker" });

    client.nc.subscribe(`${f.domain}.evt.>`);
    client.nc.publish(`orders.cmd.place_order`, "{}");
    client.nc.publish(`${f.domain}.evt.account_opened`, "{}");
    const violations = () => client.statuses.filter((s) => s.type === "error").map((s) => (s as { error: Error }).error.message).join("\n");
    await waitFor(() => /Subscription to "[a-z0-9]+\.evt\.>"/.test(violations()) && /Publish to "orders\.cmd\.place_order"/.test(violations()) && /Publish to "[a-z0-9]+\.evt\.account_opened"/.test(violations()), {
      what: "three permission violations",
    });
    assert.deepEqual(seen, [`${f.domain}.cmd.open_account`], "nothing but the command reached the worker");
    sub.unsubscribe();
  } finally {
    await Promise.all([client.nc.close(), worker.nc.close()]);
  }
});

test("a consumer reads only its own durable", async () => {
  const w = workloadsOf(f.domain);
  const worker = await f.connectAs(await f.trusted.token(w.worker), "worker");
  const ledger = await f.connectAs(await f.trusted.token(w.ledger), "consumer:ledger");
  try {
    const stream = `${f.domain.toUpperCase()}_EVENTS`;
    // The worker may create its own stream (nothing else): Herald's workers do on start.
    const created = await worker.nc.request(`$JS.API.STREAM.CREATE.${stream}`, JSON.stringify({ name: stream, subjects: [`${f.domain}.evt.>`] }));
    assert.equal(created.json<{ config?: { name: string } }>().config?.name, stream);
    const own = await ledger.nc.request(`$JS.API.CONSUMER.CREATE.${stream}.ledger`, JSON.stringify({ stream_name: stream, config: { durable_name: "ledger", ack_policy: "explicit" } }));
    assert.equal(own.json<{ name?: string }>().name, "ledger");
    await assert.rejects(ledger.nc.request(`$JS.API.CONSUMER.INFO.${stream}.audit`, "", { timeout: 1000 }), "another durable's API is refused");
    await assert.rejects(ledger.nc.request(`$JS.API.STREAM.INFO.${stream}`, "", { timeout: 1000 }), "so is the stream's");
    await waitFor(() => ledger.statuses.some((s) => s.type === "error" && /CONSUMER\.INFO\.[A-Z0-9_]+\.audit/.test((s as { error: Error }).error.message)), { what: "the violation" });
  } finally {
    await Promise.all([worker.nc.close(), ledger.nc.close()]);
  }
});

test("every issuance is recorded: subject, issuer, domain, role, NKey, expiry and the token's jti", async () => {
  const w = workloadsOf(f.domain);
  const token = await f.trusted.token(w.worker);
  const key = publicKey();
  const { jwt, expiresAt } = await fetchNatsCredentials(f.login(await f.tokenFile(token), "worker"), key);
  const claims = decode<unknown>(jwt);
  assert.equal(claims.sub, key, "the JWT is bound to the caller's key");
  const row = await f.database.db.selectFrom("herald_identity_issuances").selectAll().where("nkey", "=", key).executeTakeFirstOrThrow();
  const tokenClaims = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString());
  assert.deepEqual(
    { subject: row.subject, issuer: row.issuer, domain: row.domain, role: row.role, token_id: row.token_id, expires: row.expires_at.getTime() },
    { subject: w.worker, issuer: f.trusted.issuer, domain: f.domain, role: "worker", token_id: tokenClaims.jti, expires: expiresAt.getTime() },
  );
  // The token (300 s) expires before the worker mapping's maximum (1 h): the JWT ends with it.
  assert.equal(claims.exp, tokenClaims.exp);
});

test("a mapping's maximum lifetime caps the credential below the token's expiry", async () => {
  const token = await f.trusted.token(workloadsOf(f.domain).client);
  const before = Date.now();
  const answer = await ask(token, { publicKey: publicKey(), domain: f.domain, role: "client" });
  assert.equal(answer.status, 200, JSON.stringify(answer.json));
  const lifetime = new Date(answer.json.expiresAt).getTime() - before;
  // The client mapping says 10m; the token lives 300 s: the sooner wins.
  assert.ok(lifetime <= 300_000 + 1000 && lifetime > 290_000, `lifetime ${lifetime} ms`);
});

test("bad input gets a clear error and nothing is issued", async () => {
  const w = workloadsOf(f.domain);
  const good = await f.trusted.token(w.client);
  const body = { publicKey: publicKey(), domain: f.domain, role: "client" };
  const count = await issued();
  const expect = async (answer: Promise<{ status: number; json: any }>, status: number, code: string) => {
    const a = await answer.catch((err: Error) => { throw new Error(`${code}: ${err.message}`); });
    assert.equal(a.status, status, JSON.stringify(a.json));
    assert.equal(a.json.error?.code, code, JSON.stringify(a.json));
    assert.equal(typeof a.json.error.message, "string");
  };

  const expiring = await f.trusted.token(w.expiring);
  const exp = JSON.parse(Buffer.from(expiring.split(".")[1]!, "base64url").toString()).exp as number;
  await waitFor(() => Date.now() > exp * 1000 + 50, { what: "the short token to expire", timeoutMs: 5000 });
  await expect(ask(expiring, body), 401, "expired_token");
  await expect(ask(await f.untrusted.token(w.client), body), 401, "untrusted_issuer");
  await expect(ask(await f.trusted.token(w.client, { resource: "urn:other" }), body), 401, "wrong_audience");

  const [, payload] = good.split(".");
  const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${payload}.`;
  await expect(ask(none, body), 401, "bad_algorithm");
  const claims = JSON.parse(Buffer.from(payload!, "base64url").toString());
  const hs = await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(JSON.stringify(await (await fetch(`${f.trusted.issuer}/jwks`)).json())));
  await expect(ask(hs, body), 401, "bad_algorithm");
  const stranger = await generateKeyPair("ES256");
  const unknownKid = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "not-a-key-of-the-issuer" }).sign(stranger.privateKey);
  await expect(ask(unknownKid, body), 401, "unknown_key");
  const forged = `${good.split(".").slice(0, 2).join(".")}.${Buffer.from("x".repeat(64)).toString("base64url")}`;
  await expect(ask(forged, body), 401, "invalid_token");

  await expect(ask(good, { ...body, role: "worker" }), 403, "role_not_granted");
  await expect(ask(good, { ...body, domain: "orders" }), 403, "role_not_granted");
  await expect(ask(good, { ...body, role: "admin" }), 400, "bad_request");
  await expect(ask(good, { ...body, publicKey: "UABC" }), 400, "bad_public_key");
  const badChecksum = `${body.publicKey.slice(0, -1)}${body.publicKey.endsWith("A") ? "B" : "A"}`;
  await expect(ask(good, { ...body, publicKey: badChecksum }), 400, "bad_public_key");
  await expect(ask(good, { ...body, publicKey: new TextDecoder().decode(createUser().getSeed()) }), 400, "bad_public_key");
  await expect(ask(good, { ...body, extra: 1 }), 400, "bad_request");

  const auth = { authorization: `Bearer ${good}`, "content-type": "application/json" };
  await expect(post(auth, "{{{ not json"), 400, "bad_request");
  await expect(post(auth, "[1,2,3]"), 400, "bad_request");
  await expect(post(auth, Buffer.alloc(100_000, 0x41)), 413, "body_too_large");
  await expect(post({ "content-type": "application/json" }, JSON.stringify(body)), 401, "missing_token");
  await expect(post({ authorization: "Basic dXNlcjpwYXNz" }, JSON.stringify(body)), 401, "invalid_token");
  await expect(post({ authorization: `Bearer ${"a".repeat(20_000)}` }, JSON.stringify(body)), 401, "invalid_token");
  await expect(post({ authorization: "Bearer <script>garbage</script>" }, JSON.stringify(body)), 401, "invalid_token");
  await expect(post(auth, JSON.stringify(body), "/v1/nats/credentials", "GET"), 405, "method_not_allowed");
  await expect(post(auth, JSON.stringify(body), "/admin"), 404, "not_found");
  const huge = await post({ ...auth, "x-padding": "p".repeat(64 * 1024) }, JSON.stringify(body)).catch((err: Error) => ({ status: 0, json: err.message }));
  assert.ok(huge.status === 431 || huge.status === 0, `huge headers refused (${huge.status})`);

  assert.equal(await issued(), count, "nothing was issued");
  // And the issuer still serves a good request.
  assert.equal((await ask(good, body)).status, 200);
});

test("requests past the rate are refused with 429", async () => {
  const { startIssuerServer } = await import("../../src/identity/issuer-server.js");
  const { createTokenVerifier } = await import("../../src/identity/token-verifier.js");
  const { makeSelfSignedCert } = await import("../kit/tls-cert.js");
  const cert = await makeSelfSignedCert();
  const limited = await startIssuerServer({ policy: f.policy, verifier: createTokenVerifier(f.policy), dir: f.dir, db: f.database.db, port: 0, tls: cert, rate: { perSecond: 0.001, burst: 2 } });
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      statuses.push(await new Promise<number>((resolve, reject) => {
        const req = request(new URL("/v1/nats/credentials", limited.url), { method: "POST", ca: cert.cert }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end("{}");
      }));
    }
    assert.deepEqual(statuses, [401, 401, 429]);
  } finally {
    await limited.close();
  }
});

test("revoking a subject closes its live connection, and the issuer refuses its token from then on", async () => {
  const w = workloadsOf(f.domain);
  const token = await f.trusted.token(w.client);
  const live = await f.connectAs(token, "client");
  const closed = live.nc.closed();
  const keys = await revokeIdentity({ dir: f.dir, db: f.database.db, servers: f.nats.url, subject: w.client });
  assert.ok(keys.includes(live.nkey), "the live connection's key was among those revoked");
  const reason = await closed;
  assert.ok(reason instanceof Error && /revoked|authorization/i.test(reason.message), `closed by the server (${String(reason)})`);
  const again = await ask(token, { publicKey: publicKey(), domain: f.domain, role: "client" });
  assert.equal(again.status, 403);
  assert.equal(again.json.error.code, "revoked");
  await assert.rejects(fetchNatsCredentials(f.login(await f.tokenFile(token), "client"), live.nkey), (err: unknown) => err instanceof IdentityLoginError && err.status === 403);
});

test("re-signing drops a stale revocation from the account, and the server still refuses a credential revoked recently", async () => {
  const token = await f.trusted.token(workloadsOf(f.domain).worker);
  const user = createUser();
  const { jwt } = await fetchNatsCredentials(f.login(await f.tokenFile(token), "worker"), user.getPublicKey());
  const open = () => connect({ servers: f.nats.url, authenticator: jwtAuthenticator(jwt, user.getSeed()), reconnect: false });
  const live = await open();
  const closed = live.closed();
  // A revocation from before the longest credential lifetime: nothing it refused can still be valid.
  const stale = createUser().getPublicKey();
  const manifest = (await readManifest(f.dir))!;
  manifest.revocations[stale] = Math.floor(Date.now() / 1000) - MAX_LIFETIME_SECONDS - REVOCATION_CLOCK_SLACK_SECONDS - 60;
  await writeFile(join(f.dir, MANIFEST_FILE), JSON.stringify(manifest));

  await revokeIdentity({ dir: f.dir, db: f.database.db, servers: f.nats.url, key: user.getPublicKey() });
  assert.ok((await closed) instanceof Error, "the server closed the revoked user's connection");
  // Another re-sign, pushed to the server: the recent revocation must survive it.
  await revokeIdentity({ dir: f.dir, db: f.database.db, servers: f.nats.url, key: createUser().getPublicKey() });
  const revocations = (await readManifest(f.dir))!.revocations;
  assert.ok(!(stale in revocations), "the stale revocation was dropped");
  assert.ok(user.getPublicKey() in revocations, "the recent revocation was kept");
  await assert.rejects(open(), /authoriz|revoked/i, "the server refuses the revoked credential");
});

test("issuance records are pruned once expired longer than their retention, and only those", async () => {
  const { pruneExpired } = await import("../../src/operations/prune.js");
  const { recordIssuance } = await import("../../src/identity/identity-store.js");
  const base = { subject: "retention-probe", issuer: f.trusted.issuer, domain: f.domain, role: "client", nkey: publicKey() };
  await recordIssuance(f.database.db, { ...base, expiresAt: new Date(Date.now() - 3 * 3_600_000) });
  await recordIssuance(f.database.db, { ...base, expiresAt: new Date(Date.now() - 30 * 60_000) });
  const dry = await pruneExpired({ db: f.database.db, targets: ["issuances"], domain: f.domain, identityRetentionHours: 1, dryRun: true });
  assert.equal(dry.issuances, 1);
  const done = await pruneExpired({ db: f.database.db, targets: ["issuances"], domain: f.domain, identityRetentionHours: 1, pauseMs: 0 });
  assert.equal(done.issuances, 1);
  const left = await f.database.db.selectFrom("herald_identity_issuances").select("expires_at").where("subject", "=", "retention-probe").execute();
  assert.equal(left.length, 1, "the record expired 30 min ago is kept (retention 1 h)");
});
