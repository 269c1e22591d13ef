import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createHarness, type Harness } from "../kit/harness.js";
import { uniqueKey } from "../kit/names.js";
import { readStream, streamCount } from "../kit/stream.js";
import { waitFor } from "../kit/wait.js";

let h: Harness;
let stream: string;

before(async () => {
  h = await createHarness();
  stream = (await h.startWorker()).stream;
});
after(() => h.close());

test("every committed command's events are in the stream once, with the CloudEvents headers", async () => {
  const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const replies = [
    await h.send("open_account", { accountId: "ev_a", owner: "A", initialBalance: 100 }, { headers: { traceparent, tracestate: "herald=1" } }),
    await h.send("open_account", { accountId: "ev_b", owner: "B" }),
    await h.send("deposit", { accountId: "ev_b", amount: 5 }),
    await h.send("transfer", { from: "ev_a", to: "ev_b", amount: 30 }),
  ];
  const key = uniqueKey();
  await h.send("transfer", { from: "ev_a", to: "ev_b", amount: 1 }, { key });
  await h.send("transfer", { from: "ev_a", to: "ev_b", amount: 1 }, { key }); // replay: no new event
  await h.send("transfer", { from: "ev_b", to: "ev_a", amount: 10_000 }); // rejected: no event
  assert.ok(replies.every((r) => r.body.status === "committed"));

  const expected = await h.database.db
    .selectFrom("herald_outbox as o")
    .innerJoin("herald_commands as c", "c.id", "o.command_id")
    .select(["o.id", "o.subject", "o.type", "o.data", "c.id as command_id", "c.idempotency_key", "c.committed_at"])
    .execute();
  assert.equal(expected.length, 5);
  await waitFor(async () => (await streamCount(h.nc, stream)) === 5 || undefined, { what: "5 events in the stream" });
  // Everything is published and marked with its stream sequence.
  await waitFor(async () => {
    const rows = await h.database.db.selectFrom("herald_outbox").select(["published_at", "stream_seq"]).execute();
    return rows.every((r: { published_at: Date | null; stream_seq: number | null }) => r.published_at && r.stream_seq) || undefined;
  }, { what: "events marked published" });

  const messages = await readStream(h.nc, stream);
  const ids = messages.map((m) => m.headers["ce-id"]);
  assert.equal(new Set(ids).size, messages.length, "no event twice");
  for (const row of expected) {
    const m = messages.find((msg) => msg.headers["ce-id"] === row.id);
    assert.ok(m, `event ${row.id} is in the stream`);
    assert.equal(m.subject, row.subject);
    assert.equal(m.subject, `${h.domain}.evt.${row.type}`);
    assert.deepEqual(m.data, row.data);
    assert.equal(m.headers["ce-specversion"], "1.0");
    assert.equal(m.headers["ce-type"], `${h.domain}.${row.type}`);
    assert.equal(m.headers["ce-source"], `herald/${h.domain}`);
    assert.equal(m.headers["content-type"], "application/json");
    assert.equal(m.headers["ce-commandid"], row.command_id);
    assert.equal(m.headers["ce-idempotencykey"], row.idempotency_key);
    assert.equal(m.headers["Nats-Msg-Id"], row.id);
    assert.equal(new Date(m.headers["ce-time"]!).getTime(), row.committed_at.getTime());
  }
  const opened = messages.find((m) => m.headers["ce-commandid"] === replies[0]!.body.commandId)!;
  assert.equal(opened.headers.traceparent, traceparent);
  assert.equal(opened.headers.tracestate, "herald=1");
  assert.deepEqual(opened.data, { accountId: "ev_a", owner: "A", initialBalance: 100 });
  // Reply event ids match the stream.
  assert.deepEqual(replies[3]!.body.events.map((e: { id: string }) => e.id), [messages.find((m) => m.headers["ce-commandid"] === replies[3]!.body.commandId)!.headers["ce-id"]]);
});

test("$SRV discovery lists the four bank endpoints with their schemas", async () => {
  const { Svcm } = await import("@nats-io/services");
  const client = new Svcm(h.nc).client();
  const infos = [];
  for await (const info of await client.info(h.domain)) infos.push(info);
  assert.ok(infos.length >= 1);
  const info = infos[0]!;
  assert.equal(info.name, h.domain);
  const endpoints = info.endpoints.map((e) => e.subject).sort();
  assert.deepEqual(endpoints, [`${h.domain}.cmd.deposit`, `${h.domain}.cmd.open_account`, `${h.domain}.cmd.reserve_funds`, `${h.domain}.cmd.transfer`]);
  for (const e of info.endpoints) {
    assert.equal(e.queue_group, `herald-${h.domain}`);
    const schema = JSON.parse(e.metadata!.schema!);
    assert.equal(schema.type, "object");
    assert.equal(schema.additionalProperties, false);
  }
  const transfer = info.endpoints.find((e) => e.name === "transfer")!;
  assert.equal(transfer.metadata!.events, `${h.domain}.evt.transferred`);
  const pings = [];
  for await (const p of await client.ping(h.domain)) pings.push(p);
  assert.equal(pings[0]!.name, h.domain);
  const stats = [];
  for await (const s of await client.stats(h.domain)) stats.push(s);
  assert.ok((stats[0]!.endpoints ?? []).some((e) => e.num_requests > 0));
});
