import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { createCdcBridge, type CdcBridge } from "../../src/cdc/bridge.js";
import { cdcWildcard } from "../../src/cdc/change-message.js";
import { createCockroachSource, type CockroachWebhookSource } from "../../src/cdc/cockroach-source.js";
import { loadConfig } from "../../src/config.js";
import { connectNats } from "../../src/messaging/connection.js";
import { ensureStream } from "../../src/messaging/stream.js";
import { createStreamPublisher } from "../../src/messaging/stream-publisher.js";
import { uniqueDomain } from "../kit/names.js";
import { readStream, type StreamMessage } from "../kit/stream.js";
import { makeSelfSignedCert, type SelfSignedCert } from "../kit/tls-cert.js";
import { waitFor } from "../kit/wait.js";
import { send } from "./cockroach-harness.js";

// What a real changefeed sends that a single local table never shows: keys of
// REGIONAL BY ROW tables (crdb_region first), and rows emitted again at a new
// `updated` by an initial scan or a schema change's backfill, told apart by
// `mvcc_timestamp`. Payload shapes: docs/cdc-cockroachdb.md cites each.

const AUTH = "Basic dmVyc2lvbnM6dGVzdA==";
let cert: SelfSignedCert;
let nc: NatsConnection;
let source: CockroachWebhookSource;
let bridge: CdcBridge;
let stream: string;
let url: string;

before(async () => {
  cert = await makeSelfSignedCert();
  nc = await connectNats({ servers: loadConfig().NATS_URL });
  const domain = uniqueDomain("crver");
  stream = `${domain.toUpperCase()}_CDC`;
  await ensureStream(await jetstreamManager(nc), { name: stream, subjects: [cdcWildcard(domain)] });
  source = createCockroachSource({ port: 0, tls: cert, authHeader: AUTH, tables: { vehicles: ["id"], accounts: ["id"], pairs: ["a", "b"] } });
  bridge = createCdcBridge({ publisher: createStreamPublisher(nc), source, domain });
  await bridge.start();
  url = `https://127.0.0.1:${source.address().port}/changefeed`;
});

after(async () => {
  await bridge?.stop().catch(() => undefined);
  await (await jetstreamManager(nc)).streams.delete(stream).catch(() => undefined);
  await nc?.close();
});

const post = (...messages: unknown[]) => send(url, cert.cert, { body: JSON.stringify({ payload: messages, length: messages.length }), headers: { authorization: AUTH } });

async function messagesOf(table: string, count: number): Promise<StreamMessage[]> {
  return waitFor(async () => {
    await bridge.idle();
    const list = (await readStream(nc, stream)).filter((m) => m.data.table === table);
    return list.length >= count ? list : undefined;
  }, { what: `${count} message(s) of ${table}` });
}

test("REGIONAL BY ROW: a key led by crdb_region is read as [crdb_region, id] without any setting, deletes included", async () => {
  // After SET LOCALITY REGIONAL BY ROW, crdb_region leads the key and appears in the row images.
  const row = { id: "v1", crdb_region: "europe-west1", status: "in_use" };
  assert.equal((await post({ after: row, before: null, key: ["europe-west1", "v1"], topic: "vehicles", updated: "1700000000000000001.0000000000" })).status, 200);
  // A row moved to another region: an insert under the new key, a delete under the old one.
  const moved = { ...row, crdb_region: "us-east1" };
  assert.equal((await post(
    { after: moved, before: null, key: ["us-east1", "v1"], topic: "vehicles", updated: "1700000000000000002.0000000000" },
    { after: null, before: row, key: ["europe-west1", "v1"], topic: "vehicles", updated: "1700000000000000002.0000000000" },
  )).status, 200);
  // A delete without before image (no diff): the region is told by its place alone.
  assert.equal((await post({ after: null, key: ["us-east1", "v1"], topic: "vehicles", updated: "1700000000000000003.0000000000" })).status, 200);
  const list = await messagesOf("vehicles", 4);
  // Order holds per key only (the region is part of the key), so compare as a set.
  const got = list.map((m) => JSON.stringify([m.data.op, m.data.key])).sort();
  const want = [
    ["insert", { crdb_region: "europe-west1", id: "v1" }],
    ["insert", { crdb_region: "us-east1", id: "v1" }],
    ["delete", { crdb_region: "europe-west1", id: "v1" }],
    ["delete", { crdb_region: "us-east1", id: "v1" }],
  ].map((x) => JSON.stringify(x)).sort();
  assert.deepEqual(got, want);
  assert.equal(new Set(list.map((m) => m.headers["Nats-Msg-Id"])).size, 4, "the region is part of the row's identity");
});

test("a key that fits no configured columns gets 400 naming the HERALD_CDC_WEBHOOK_KEYS value to set", async () => {
  const before = (await readStream(nc, stream)).length;
  // An extra key value that is not the row's crdb_region: not taken as a region.
  const wrongRegion = await post({ after: { id: "v2", crdb_region: "us-east1" }, before: null, key: ["europe-west1", "v2"], topic: "vehicles", updated: "1700000000000000004.0000000000" });
  assert.equal(wrongRegion.status, 400);
  const composite = await post({ after: { tenant: "t1", id: "a", value: 1 }, before: null, key: ["t1", "a"], topic: "accounts", updated: "1700000000000000004.0000000000" });
  assert.equal(composite.status, 400);
  assert.match(JSON.parse(composite.body).message, /set HERALD_CDC_WEBHOOK_KEYS=accounts:tenant\+id \(/);
  const noImage = await post({ after: null, key: [1, 2, 3], topic: "pairs", updated: "1700000000000000004.0000000000" });
  assert.equal(noImage.status, 400);
  assert.match(JSON.parse(noImage.body).message, /set HERALD_CDC_WEBHOOK_KEYS=pairs:<column>\+<column> .*SHOW INDEX FROM pairs/);
  assert.equal((await readStream(nc, stream)).length, before, "nothing of a refused request is published");
});

test("mvcc_timestamp: a row an initial scan and a job restart emit again keeps its id; a backfill copy with a new column is marked", async () => {
  const written = "1700000000000000010.0000000000";
  const v1 = { after: { id: "a", value: 1 }, key: ["a"], topic: "accounts", mvcc_timestamp: written };
  // Initial scan: `updated` is the scan's timestamp, `mvcc_timestamp` the row version's.
  assert.equal((await post({ ...v1, updated: "1700000000000000020.0000000000" })).status, 200);
  // The job restarts and scans again at a later timestamp: the same version, the same id.
  assert.equal((await post({ ...v1, updated: "1700000000000000030.0000000000" })).status, 200);
  // A change made after the scan: mvcc_timestamp equals updated.
  const changed = "1700000000000000040.0000000000";
  assert.equal((await post({ after: { id: "a", value: 2 }, before: { id: "a", value: 1 }, key: ["a"], topic: "accounts", updated: changed, mvcc_timestamp: changed })).status, 200);
  // ALTER TABLE … ADD COLUMN … DEFAULT: the table is emitted again with the new column, at the new schema's first timestamp.
  const backfill = { after: { id: "a", value: 2, region: "eu" }, before: { id: "a", value: 2 }, key: ["a"], topic: "accounts", mvcc_timestamp: changed };
  assert.equal((await post({ ...backfill, updated: "1700000000000000050.0000000000" })).status, 200);
  assert.equal((await post({ ...backfill, updated: "1700000000000000060.0000000000" })).status, 200, "a re-sent backfill");
  await bridge.idle();
  const list = await messagesOf("accounts", 3);
  assert.equal(list.length, 3, "the re-emitted copies were dropped by msg-id");
  assert.deepEqual(list.map((m) => [m.data.after.value, m.data.backfill ?? false, m.headers["ce-cdcbackfill"] ?? "-"]), [
    [1, true, "true"],
    [2, false, "-"],
    [2, true, "true"],
  ]);
  assert.equal(list[2]!.data.after.region, "eu", "the backfill copy carries the new column");
  assert.equal(list[0]!.data.position, "1700000000000000020.0000000000", "position stays the emission's updated timestamp");
});

test("without mvcc_timestamp, copies at a new updated timestamp are new messages (the documented limit)", async () => {
  const pairs = { key: ["b", 1], after: { a: "b", b: 1, value: 1 }, topic: "pairs" };
  assert.equal((await post({ ...pairs, updated: "1700000000000000070.0000000000" })).status, 200);
  assert.equal((await post({ ...pairs, updated: "1700000000000000080.0000000000" })).status, 200);
  const list = await messagesOf("pairs", 2);
  assert.equal(list.length, 2);
  assert.ok(list.every((m) => m.data.backfill === undefined && m.headers["ce-cdcbackfill"] === undefined), "nothing tells a copy without mvcc_timestamp");
  assert.deepEqual(list[0]!.data.key, { a: "b", b: 1 });
});

test("a malformed mvcc_timestamp is a 400", async () => {
  const bad = await post({ after: { id: "c", value: 1 }, key: ["c"], topic: "accounts", updated: "1700000000000000090.0000000000", mvcc_timestamp: "yesterday" });
  assert.equal(bad.status, 400);
  assert.match(JSON.parse(bad.body).message, /mvcc_timestamp must be an HLC timestamp/);
});
