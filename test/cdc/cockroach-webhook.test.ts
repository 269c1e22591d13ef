import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { createCdcBridge } from "../../src/cdc/bridge.js";
import { cdcWildcard } from "../../src/cdc/change-message.js";
import type { ChangeBatch } from "../../src/cdc/change-source.js";
import { createCockroachSource } from "../../src/cdc/cockroach-source.js";
import { loadConfig } from "../../src/config.js";
import { connectNats } from "../../src/messaging/connection.js";
import { ensureStream } from "../../src/messaging/stream.js";
import { uniqueDomain } from "../kit/names.js";
import { readStream } from "../kit/stream.js";
import { makeSelfSignedCert, type SelfSignedCert } from "../kit/tls-cert.js";
import { waitFor } from "../kit/wait.js";
import { assertExactlyOnce, runSourceConformance, seen, type SeenChange, type Write } from "./conformance.js";
import { cockroachFixture } from "./cockroach-fixture.js";
import { bridgeInto, send } from "./cockroach-harness.js";
import { createStreamPublisher } from "../../src/messaging/stream-publisher.js";

// The CockroachDB webhook source against the shared conformance suite. The
// changefeed is simulated from CockroachDB's documented payloads and retry
// behaviour (test/cdc/cockroach-feed.ts), not a live CockroachDB.

let cert: SelfSignedCert;
before(async () => {
  cert = await makeSelfSignedCert();
});

runSourceConformance("cockroachdb", () => cockroachFixture(cert));

// Beyond the suite: CockroachDB's own ways of sending a change again.

let nc: NatsConnection;
before(async () => {
  nc = await connectNats({ servers: loadConfig().NATS_URL });
});
after(async () => {
  await nc?.close();
});

const countIs = (read: () => Promise<SeenChange[]>, n: number) => async () => {
  const list = await read();
  return list.length >= n ? list : undefined;
};

test("cockroachdb: a batch the bridge cannot publish gets 503; the changefeed's retry of the same body lands once", async (t) => {
  const fixture = await cockroachFixture(cert);
  t.after(() => fixture.dispose());
  const domain = uniqueDomain("crdb");
  const stream = `${domain.toUpperCase()}_CDC`;
  const jsm = await jetstreamManager(nc);
  t.after(() => jsm.streams.delete(stream).catch(() => undefined));
  // No stream yet: every publish fails at once and the bridge nacks.
  const bridge = createCdcBridge({ publisher: createStreamPublisher(nc), source: fixture.source, domain, ackTimeoutMs: 500 });
  await bridge.start();
  t.after(() => bridge.stop());
  const writes: Write[] = [
    { table: "cdc_a", op: "insert", id: "a", value: 1 },
    { table: "cdc_a", op: "insert", id: "b", value: 2 },
  ];
  await fixture.commit(writes);
  await waitFor(() => fixture.feed.stats.statuses.includes(503), { what: "a 503 reply" });
  assert.equal((await fixture.source.position()).acknowledged, null, "nothing was acknowledged");
  await ensureStream(jsm, { name: stream, subjects: [cdcWildcard(domain)] });
  const read = async () => seen(await readStream(nc, stream));
  await waitFor(countIs(read, 2), { what: "the retried batch" });
  await fixture.feed.idle();
  assert.ok(fixture.feed.stats.failures > 0, "the changefeed had to retry");
  assertExactlyOnce(await read(), writes);
  assert.ok((await fixture.source.position()).acknowledged, "the resolved timestamp after the retry was acknowledged");
});

test("cockroachdb: a job restarted from its checkpoint re-emits changes; the msg-id drops every copy", async (t) => {
  const fixture = await cockroachFixture(cert, { feed: { batchMessages: 3 } });
  t.after(() => fixture.dispose());
  const { bridge, read, dispose } = await bridgeInto(nc, fixture.source);
  t.after(dispose);
  const first: Write[] = [{ table: "cdc_a", op: "insert", id: "k", value: 1 }];
  await fixture.commit(first);
  await waitFor(countIs(read, 1), { what: "the first change" });
  await fixture.feed.idle();
  const checkpoint = (await fixture.source.position()).acknowledged;
  assert.ok(checkpoint, "a resolved timestamp was acknowledged");
  assert.equal(checkpoint, fixture.feed.stats.resolvedAcked);
  fixture.feed.autoResolve = false;
  const later: Write[] = [
    { table: "cdc_a", op: "update", id: "k", value: 2 },
    { table: "cdc_b", op: "insert", id: "m", value: 1 },
  ];
  await fixture.commit(later.slice(0, 1));
  await fixture.commit(later.slice(1));
  await fixture.commit([{ table: "cdc_a", op: "update", id: "k", value: 3 }]);
  later.push({ table: "cdc_a", op: "update", id: "k", value: 3 });
  await waitFor(countIs(read, 4), { what: "the later changes" });
  await fixture.feed.idle();
  await bridge.idle();
  const before = bridge.stats();
  // Paused or failed before its next checkpoint: the job sends everything after the last resolved timestamp again.
  fixture.feed.restartFromCheckpoint();
  await fixture.feed.idle();
  await bridge.idle();
  assert.equal(bridge.stats().duplicates - before.duplicates, later.length, "every re-emitted change was a duplicate JetStream dropped");
  assertExactlyOnce(await read(), [...first, ...later]);
  assert.equal((await fixture.source.position()).acknowledged, checkpoint, "no resolved timestamp: the position stays");
});

for (const variant of [{ envelope: "bare" as const }, { envelope: "wrapped" as const, diff: false }]) {
  test(`cockroachdb: ${variant.envelope} envelope${variant.diff === false ? " without diff" : ""}: changes and deletes arrive, inserts as updates`, async (t) => {
    const fixture = await cockroachFixture(cert, { feed: variant });
    t.after(() => fixture.dispose());
    const { read, dispose } = await bridgeInto(nc, fixture.source);
    t.after(dispose);
    await fixture.commit([{ table: "cdc_a", op: "insert", id: "a", value: 1 }]);
    await fixture.commit([{ table: "cdc_a", op: "update", id: "a", value: 2 }]);
    await fixture.commit([{ table: "cdc_a", op: "delete", id: "a" }]);
    const changes = await waitFor(countIs(read, 3), { what: "three changes" });
    // Without before images CockroachDB does not say whether a row is new.
    assert.deepEqual(changes.map((c) => [c.op, c.value]), [["update", 1], ["update", 2], ["delete", null]]);
    await fixture.feed.idle();
    assert.ok((await fixture.source.position()).acknowledged, `the ${variant.envelope} resolved message was taken`);
  });
}

test("cockroachdb: no ack within the reply timeout answers 503; a stop answers 503 to what is in flight", async (t) => {
  const authHeader = "Bearer timeout-test";
  const source = createCockroachSource({ port: 0, tls: cert, authHeader, tables: ["cdc_a"], replyTimeoutMs: 200 });
  const held: ChangeBatch[] = [];
  await source.start((batch) => void held.push(batch));
  t.after(() => source.stop());
  const url = `https://127.0.0.1:${source.address().port}/changefeed`;
  const body = JSON.stringify({ resolved: "1700000000000000000.0000000005" });
  const headers = { authorization: authHeader };
  const timedOut = await send(url, cert.cert, { body, headers });
  assert.equal(timedOut.status, 503, "the bridge never answered: CockroachDB must send it again");
  assert.equal(held.length, 1);
  assert.equal((await source.position()).acknowledged, null, "an unanswered batch does not move the position");
  const inFlight = send(url, cert.cert, { body, headers });
  await waitFor(() => held.length === 2, { what: "the second delivery" });
  await source.stop();
  assert.equal((await inFlight).status, 503);
  assert.equal((await source.position()).active, false);
});
