import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { createCockroachSource, type CockroachWebhookSource } from "../../src/cdc/cockroach-source.js";
import { loadConfig } from "../../src/config.js";
import { connectNats } from "../../src/messaging/connection.js";
import { makeSelfSignedCert, type SelfSignedCert } from "../kit/tls-cert.js";
import { waitFor } from "../kit/wait.js";
import { installTestTelemetry, sumWhere, type TestTelemetry } from "../telemetry/otel-kit.js";
import { WEBHOOK_METRIC } from "../../src/cdc/webhook-telemetry.js";
import { bridgeInto, send } from "./cockroach-harness.js";
import type { SeenChange } from "./conformance.js";

// Bad requests to the changefeed endpoint, over real HTTPS: each gets its
// status, nothing of it reaches the stream, and the position stays.

const AUTH = "Basic aGVyYWxkOnMzY3JldA==";
const LIMIT = 2048;
let cert: SelfSignedCert;
let nc: NatsConnection;
let source: CockroachWebhookSource;
let read: () => Promise<SeenChange[]>;
let dispose: () => Promise<void>;
let url: string;
let telemetry: TestTelemetry;

const row = (id: string, value: number, updated: string, extra: Record<string, unknown> = {}) => ({
  after: { id, value },
  before: null,
  key: [id],
  topic: "accounts",
  updated,
  ...extra,
});
const batch = (...messages: unknown[]) => JSON.stringify({ payload: messages, length: messages.length });
const post = (body: string | string[], headers: Record<string, string> = { authorization: AUTH }, path = "/cdc") =>
  send(`${url.replace(/\/cdc$/, "")}${path}`, cert.cert, { body, headers });

before(async () => {
  telemetry = installTestTelemetry();
  cert = await makeSelfSignedCert();
  nc = await connectNats({ servers: loadConfig().NATS_URL });
  source = createCockroachSource({ port: 0, path: "/cdc", tls: cert, authHeader: AUTH, tables: { accounts: ["id"] }, maxBodyBytes: LIMIT });
  ({ read, dispose } = await bridgeInto(nc, source));
  url = `https://127.0.0.1:${source.address().port}/cdc`;
  // A first resolved timestamp, so "the position stays" is checked against a real value.
  assert.equal((await post(JSON.stringify({ resolved: "1700000000000000000.0000000000" }))).status, 200);
});

after(async () => {
  await dispose?.();
  await nc?.close();
});

async function assertUntouched(): Promise<void> {
  assert.deepEqual(await read(), [], "nothing reached the stream");
  const position = await source.position();
  assert.equal(position.acknowledged, "1700000000000000000.0000000000", "the position did not move");
}

const LATER = "1800000000000000000.0000000000";

test("a body that is not a changefeed payload gets 400 and publishes nothing", async () => {
  const bad: Array<[string, string]> = [
    ["not JSON", "{payload:"],
    ["a JSON array", "[]"],
    ["neither payload nor resolved", JSON.stringify({ rows: [] })],
    ["payload not an array", JSON.stringify({ payload: {}, length: 0 })],
    ["length does not match", JSON.stringify({ payload: [row("a", 1, LATER)], length: 2 })],
    ["no updated (changefeed without WITH updated)", batch({ after: { id: "a", value: 1 }, key: ["a"], topic: "accounts" })],
    ["updated not an HLC", batch(row("a", 1, "yesterday"))],
    ["no key", batch({ after: { id: "a" }, topic: "accounts", updated: LATER })],
    ["key of the wrong arity", batch(row("a", 1, LATER, { key: ["a", "b"] }))],
    ["no after and no __crdb__", batch({ key: ["a"], topic: "accounts", updated: LATER })],
    ["after not an object", batch(row("a", 1, LATER, { after: 5 }))],
    ["a table nobody watches", batch(row("a", 1, LATER, { topic: "secrets" }))],
    // One bad message spoils the whole request: the good one before it is not published either.
    ["a good message then a bad one", batch(row("good", 1, LATER), row("bad", 2, "nope"))],
    ["resolved not an HLC", JSON.stringify({ resolved: "soon" })],
    ["resolved with other fields", JSON.stringify({ resolved: LATER, after: {} })],
    ["unknown top-level field", JSON.stringify({ payload: [], length: 0, extra: 1 })],
  ];
  for (const [what, body] of bad) {
    const r = await post(body);
    assert.equal(r.status, 400, `${what}: ${r.body}`);
    assert.equal(JSON.parse(r.body).error, "invalid_payload", what);
  }
  await assertUntouched();
});

test("a bad or missing Authorization header gets 401", async () => {
  const body = batch(row("a", 1, LATER));
  // (Surrounding whitespace is not a different value: HTTP strips it before anyone sees the header.)
  const variants: Array<Record<string, string>> = [{}, { authorization: "Basic d3Jvbmc6d3Jvbmc=" }, { authorization: AUTH.slice(0, -1) }, { authorization: `${AUTH}x` }, { authorization: AUTH.toLowerCase() }];
  for (const headers of variants) {
    const r = await post(body, headers);
    assert.equal(r.status, 401, JSON.stringify(headers));
  }
  assert.equal((await post(JSON.stringify({ resolved: LATER }), {})).status, 401, "an unauthenticated resolved message does not move the position");
  await assertUntouched();
});

test(`bodies over the limit (${LIMIT} bytes) get 413, with or without Content-Length`, async () => {
  const big = batch(...Array.from({ length: 40 }, (_, i) => row(`r${i}`, i, LATER)));
  assert.ok(Buffer.byteLength(big) > LIMIT);
  assert.equal((await post(big)).status, 413, "declared by Content-Length");
  const chunks = big.match(/.{1,256}/gs)!;
  assert.equal((await post(chunks)).status, 413, "counted while streaming (chunked)");
  await assertUntouched();
});

test("wrong path 404, wrong method 405, wrong content type 415", async () => {
  const body = batch(row("a", 1, LATER));
  assert.equal((await post(body, { authorization: AUTH }, "/other")).status, 404);
  const get = await send(url, cert.cert, { method: "GET", headers: { authorization: AUTH } });
  assert.equal(get.status, 405);
  const csv = await send(url, cert.cert, { body: "a,1\n", headers: { authorization: AUTH, "content-type": "text/csv" } });
  assert.equal(csv.status, 415);
  await assertUntouched();
});

test("after all that, a valid request is published and a valid resolved timestamp moves the position", async () => {
  assert.equal((await post(batch(row("a", 1, LATER)))).status, 200);
  const changes = await waitFor(async () => {
    const list = await read();
    return list.length === 1 ? list : undefined;
  }, { what: "the valid change" });
  assert.equal(changes[0]!.id, "a");
  assert.equal(changes[0]!.op, "insert");
  assert.equal((await post(JSON.stringify({ resolved: LATER }))).status, 200);
  const position = await source.position();
  assert.equal(position.acknowledged, LATER);
  assert.equal(position.acknowledgedAt?.getTime(), 1_800_000_000_000);
  // An older resolved timestamp (a re-sent one) never moves it back.
  assert.equal((await post(JSON.stringify({ resolved: "1750000000000000000.0000000000" }))).status, 200);
  assert.equal((await source.position()).acknowledged, LATER);
});

test("every reply is counted by status", async () => {
  const points = await telemetry.points(WEBHOOK_METRIC.requests);
  const count = (status: number) => sumWhere(points, { "http.response.status_code": status });
  assert.equal(count(400), 16, "the invalid payloads");
  assert.equal(count(401), 6, "the bad and missing Authorization headers");
  assert.equal(count(413), 2);
  assert.equal(count(404) + count(405) + count(415), 3);
  assert.equal(count(200), 4, "the first resolved, the valid batch, two resolved");
});
