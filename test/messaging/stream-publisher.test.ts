import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { headers as natsHeaders, type NatsConnection } from "@nats-io/nats-core";
import { connectNats } from "../../src/messaging/connection.js";
import { ensureStream, openStreamManager } from "../../src/messaging/stream.js";
import { createStreamPublisher, StreamPublishError, type StreamPublishErrorCode } from "../../src/messaging/stream-publisher.js";
import { uniqueDomain } from "../kit/names.js";
import { connectSharedNats, startNatsServer } from "../kit/nats-server.js";
import { readStream } from "../kit/stream.js";

/** The lean JetStream publisher: PubAcks on one inbox subscription, against a real nats-server. */
let nc: NatsConnection;
const domain = uniqueDomain("sp");
const stream = `${domain.toUpperCase()}_SP`;
const data = (text: string) => new TextEncoder().encode(text);

before(async () => {
  nc = await connectSharedNats("stream-publisher-test");
  await ensureStream(await openStreamManager(nc), { name: stream, subjects: [`${domain}.stored.>`] });
});
after(async () => {
  await (await openStreamManager(nc)).streams.delete(stream).catch(() => undefined);
  await nc.close();
});

const failsWith = (code: StreamPublishErrorCode) => (err: unknown) => err instanceof StreamPublishError && err.code === code;

test("each message is stored once with its headers, acked with its sequence; a repeated msg-id is acked as a duplicate", async () => {
  const publisher = createStreamPublisher(nc);
  const h = natsHeaders();
  h.set("ce-id", "one");
  const first = await publisher.publish(`${domain}.stored.a`, data('{"n":1}'), { msgID: "m-1", headers: h });
  assert.equal(first.stream, stream);
  assert.equal(first.duplicate, false);
  const again = await publisher.publish(`${domain}.stored.a`, data('{"n":1}'), { msgID: "m-1" });
  assert.deepEqual(again, { stream, seq: first.seq, duplicate: true }, "JetStream dropped the copy and named the stored one");
  const second = await publisher.publish(`${domain}.stored.b`, data('{"n":2}'), { msgID: "m-2" });
  assert.equal(second.seq, first.seq + 1);
  const stored = (await readStream(nc, stream)).filter((m) => m.seq >= first.seq);
  assert.deepEqual(stored.map((m) => [m.subject, m.headers["Nats-Msg-Id"], m.data.n]), [[`${domain}.stored.a`, "m-1", 1], [`${domain}.stored.b`, "m-2", 2]]);
  assert.equal(stored[0]!.headers["ce-id"], "one");
  publisher.close();
});

test("thousands of acks in flight at once each resolve with their own sequence", async () => {
  const publisher = createStreamPublisher(nc);
  const acks = await Promise.all(Array.from({ length: 3000 }, (_, i) => publisher.publish(`${domain}.stored.many`, data(String(i)), { msgID: `many-${i}` })));
  const seqs = acks.map((a) => a.seq);
  assert.equal(new Set(seqs).size, 3000, "no two publishes got the same ack");
  const bySeq = new Map((await readStream(nc, stream)).map((m) => [m.seq, m]));
  acks.forEach((ack, i) => assert.equal(bySeq.get(ack.seq)!.headers["Nats-Msg-Id"], `many-${i}`, "each ack names its own message"));
  publisher.close();
});

test("a subject no stream takes is refused at once as no_responders, not left to time out", async () => {
  const publisher = createStreamPublisher(nc, { timeoutMs: 60_000 });
  await assert.rejects(publisher.publish(`${domain}.nowhere`, data("{}")), failsWith("no_responders"));
  publisher.close();
});

test("JetStream's own refusal comes back as stream_error with its error", async () => {
  const publisher = createStreamPublisher(nc);
  const h = natsHeaders();
  h.set("Nats-Expected-Stream", "NOT_THIS_ONE");
  await assert.rejects(publisher.publish(`${domain}.stored.x`, data("{}"), { headers: h }), (err: unknown) => {
    assert.ok(err instanceof StreamPublishError && err.code === "stream_error", String(err));
    assert.equal(typeof err.apiError?.err_code, "number");
    return true;
  });
  publisher.close();
});

test("no PubAck within the timeout rejects as timeout; the publisher keeps working", async () => {
  // A plain subscriber and no stream: the message is delivered, and nobody acks it.
  const silent = nc.subscribe(`${domain}.silent`);
  await nc.flush();
  const publisher = createStreamPublisher(nc, { sweepMs: 20 });
  try {
    await assert.rejects(publisher.publish(`${domain}.silent`, data("{}"), { timeout: 200 }), failsWith("timeout"));
    assert.equal((await publisher.publish(`${domain}.stored.after`, data("{}"))).stream, stream);
  } finally {
    silent.unsubscribe();
    publisher.close();
  }
});

test("closing the connection fails every wait as closed, and later publishes at once", async () => {
  const server = await startNatsServer();
  const own = await connectNats({ servers: server.url, name: "stream-publisher-close" });
  try {
    const silent = own.subscribe("held.>");
    await own.flush();
    const publisher = createStreamPublisher(own, { timeoutMs: 60_000 });
    const waiting = publisher.publish("held.one", data("{}"));
    await own.close();
    silent.unsubscribe();
    await assert.rejects(waiting, failsWith("closed"));
    await assert.rejects(publisher.publish("held.two", data("{}")), failsWith("closed"));
  } finally {
    await server.dispose();
  }
});

test("a bad subject is refused as invalid and stores nothing", async () => {
  const publisher = createStreamPublisher(nc);
  const before = (await readStream(nc, stream)).length;
  await assert.rejects(publisher.publish(`${domain}.stored.bad subject`, data("{}")), failsWith("invalid"));
  assert.equal((await readStream(nc, stream)).length, before);
  publisher.close();
});
