/**
 * The conformance suite every change source passes: through the real bridge
 * into a real JetStream stream. A source's test file calls
 * `runSourceConformance("postgres", makeFixture)`.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { createCdcBridge, type CdcBridge, type CdcBridgeOptions } from "../../src/cdc/bridge.js";
import { cdcWildcard } from "../../src/cdc/change-message.js";
import type { ChangeSource } from "../../src/cdc/change-source.js";
import { connectNats } from "../../src/messaging/connection.js";
import { ensureStream } from "../../src/messaging/stream.js";
import { loadConfig } from "../../src/config.js";
import { uniqueDomain } from "../kit/names.js";
import { readStream, type StreamMessage } from "../kit/stream.js";
import { startTcpProxy, type TcpProxy } from "../kit/tcp-proxy.js";
import { waitFor } from "../kit/wait.js";
import { createStreamPublisher } from "../../src/messaging/stream-publisher.js";

export interface Write {
  table: string;
  op: "insert" | "update" | "delete";
  id: string;
  value?: number;
}

export interface SourceFixture {
  /** Fresh, not started. */
  source: ChangeSource;
  /** Watched tables, each with primary key `id text` and a column `value int`. */
  tables: string[];
  /** Has the database commit these writes in ONE transaction, in this order. */
  commit(writes: Write[]): Promise<void>;
  /** Writes that are rolled back: must never appear. Sources that cannot see uncommitted writes may no-op. */
  rollback(writes: Write[]): Promise<void>;
  /** Stops the current source and makes a new one that resumes from the durable position. */
  reopen(): Promise<ChangeSource>;
  dispose(): Promise<void>;
}

/** What the suite reads back from the stream: one row change per message. */
export interface SeenChange {
  subject: string;
  table: string;
  op: string;
  id: string;
  value: number | null;
  msgId: string;
  headers: Record<string, string>;
}

export function seen(messages: StreamMessage[]): SeenChange[] {
  return messages.map((m) => ({
    subject: m.subject,
    table: m.data.table,
    op: m.data.op,
    id: String(m.data.key.id),
    value: m.data.after ? Number(m.data.after.value) : null,
    msgId: m.headers["Nats-Msg-Id"]!,
    headers: m.headers,
  }));
}

/** Every write in `expected` is in the stream once, per key in the order given, and nothing else is. */
export function assertExactlyOnce(changes: SeenChange[], expected: Write[]): void {
  const ids = changes.map((c) => c.msgId);
  assert.equal(new Set(ids).size, ids.length, "no change is in the stream twice");
  const render = (c: { table: string; op: string; id: string; value: number | null }) => `${c.table}/${c.id} ${c.op} ${c.value ?? "-"}`;
  const byKey = (list: Array<{ table: string; op: string; id: string; value: number | null }>) => {
    const out = new Map<string, string[]>();
    for (const c of list) {
      const k = `${c.table}/${c.id}`;
      out.set(k, [...(out.get(k) ?? []), render(c)]);
    }
    return out;
  };
  const want = byKey(expected.map((w) => ({ ...w, value: w.op === "delete" ? null : (w.value ?? null) })));
  const got = byKey(changes);
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), "the stream holds changes of exactly the committed rows");
  for (const [k, list] of want) assert.deepEqual(got.get(k), list, `changes of ${k} arrive once each, in commit order`);
}

type BridgeOverrides = Partial<Omit<CdcBridgeOptions, "js" | "source" | "domain">> & { nc?: NatsConnection };

export function runSourceConformance(name: string, makeFixture: () => Promise<SourceFixture>): void {
  let nc: NatsConnection;
  const cleanups: Array<() => Promise<unknown>> = [];
  before(async () => {
    nc = await connectNats({ servers: loadConfig().NATS_URL });
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await nc?.close();
  });

  async function setup(): Promise<{ fixture: SourceFixture; domain: string; stream: string; bridge: (source: ChangeSource, options?: BridgeOverrides) => Promise<CdcBridge>; read: () => Promise<SeenChange[]> }> {
    const fixture = await makeFixture();
    cleanups.push(() => fixture.dispose());
    const domain = uniqueDomain("cdc");
    const stream = `${domain.toUpperCase()}_CDC`;
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, { name: stream, subjects: [cdcWildcard(domain)] });
    cleanups.push(() => jsm.streams.delete(stream));
    const bridges: CdcBridge[] = [];
    cleanups.push(async () => {
      for (const b of bridges) await b.stop().catch(() => undefined);
    });
    return {
      fixture,
      domain,
      stream,
      async bridge(source, { nc: via, ...options } = {}) {
        const b = createCdcBridge({ publisher: createStreamPublisher(via ?? nc), source, domain, ...options });
        bridges.push(b);
        await b.start();
        return b;
      },
      read: async () => seen(await readStream(nc, stream)),
    };
  }

  const countIs = (read: () => Promise<SeenChange[]>, n: number) => async () => {
    const list = await read();
    return list.length >= n ? list : undefined;
  };

  test(`${name}: every committed change arrives once, in commit order per key, on its subject with CloudEvents headers`, async () => {
    const { fixture, domain, bridge, read } = await setup();
    const [t1, t2] = [fixture.tables[0]!, fixture.tables[1] ?? fixture.tables[0]!];
    const writes: Write[][] = [
      [
        { table: t1, op: "insert", id: "a", value: 1 },
        { table: t1, op: "insert", id: "b", value: 10 },
        { table: t2, op: "insert", id: "c", value: 100 },
      ],
      [
        { table: t1, op: "update", id: "a", value: 2 },
        { table: t1, op: "delete", id: "b" },
      ],
      [{ table: t1, op: "update", id: "a", value: 3 }],
      [{ table: t2, op: "update", id: "c", value: 101 }, { table: t1, op: "insert", id: "b", value: 11 }],
    ];
    await bridge(fixture.source);
    for (const w of writes) await fixture.commit(w);
    const all = writes.flat();
    const changes = await waitFor(countIs(read, all.length), { what: "every committed change in the stream" });
    assertExactlyOnce(changes, all);
    for (const c of changes) {
      assert.equal(c.subject, `${domain}.cdc.${c.table}.${c.op}`);
      assert.equal(c.headers["ce-specversion"], "1.0");
      assert.equal(c.headers["ce-id"], c.msgId, "ce-id is the msg-id");
      assert.match(c.msgId, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, "the msg-id is a name-based UUID");
      assert.equal(c.headers["ce-type"], `${domain}.cdc.${c.table}.${c.op}`);
      assert.ok(!Number.isNaN(Date.parse(c.headers["ce-time"]!)), "ce-time is the commit time");
      assert.ok(c.headers["ce-cdcposition"], "the commit position is carried");
      assert.ok(c.headers["ce-commandid"] && c.headers["ce-idempotencykey"], "transaction identity is carried for consumers");
    }
    const deleted = changes.find((c) => c.op === "delete")!;
    assert.equal(deleted.value, null, "a delete has no after image");
    // Changes of one transaction share a transaction id; different transactions do not.
    const aUpdates = changes.filter((c) => c.id === "a");
    assert.equal(new Set(aUpdates.map((c) => c.headers["ce-commandid"])).size, 3);
  });

  test(`${name}: rolled-back writes never appear`, async () => {
    const { fixture, bridge, read } = await setup();
    const t = fixture.tables[0]!;
    await bridge(fixture.source);
    await fixture.commit([{ table: t, op: "insert", id: "kept", value: 1 }]);
    await fixture.rollback([
      { table: t, op: "insert", id: "ghost", value: 666 },
      { table: t, op: "update", id: "kept", value: 666 },
    ]);
    await fixture.commit([{ table: t, op: "update", id: "kept", value: 2 }]);
    const changes = await waitFor(countIs(read, 2), { what: "the committed changes" });
    assertExactlyOnce(changes, [
      { table: t, op: "insert", id: "kept", value: 1 },
      { table: t, op: "update", id: "kept", value: 2 },
    ]);
  });

  test(`${name}: a reopened source does not send acked batches again`, async () => {
    const { fixture, bridge, read } = await setup();
    const t = fixture.tables[0]!;
    const first = await bridge(fixture.source);
    const before: Write[] = [];
    for (let i = 0; i < 5; i++) before.push({ table: t, op: "insert", id: `r${i}`, value: i });
    await fixture.commit(before.slice(0, 3));
    await fixture.commit(before.slice(3));
    await waitFor(countIs(read, 5), { what: "the first changes" });
    await first.idle();
    await first.stop();
    const reopened = await fixture.reopen();
    const second = await bridge(reopened);
    const later: Write[] = [{ table: t, op: "update", id: "r0", value: 100 }];
    await fixture.commit(later);
    const changes = await waitFor(countIs(read, 6), { what: "the change after the reopen" });
    await second.idle();
    assertExactlyOnce(changes, [...before, ...later]);
    assert.equal(second.stats().published, 1, "only the new change was delivered after the reopen");
    assert.equal(second.stats().duplicates, 0);
  });

  async function proxiedNats(): Promise<{ nc: NatsConnection; proxy: TcpProxy }> {
    const target = new URL(loadConfig().NATS_URL.split(",")[0]!.replace(/^nats:/, "http:"));
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 4222) });
    const via = await connectNats({ servers: `nats://127.0.0.1:${proxy.port}` });
    cleanups.push(async () => {
      proxy.resume();
      await via.close().catch(() => undefined);
      await proxy.close();
    });
    return { nc: via, proxy };
  }

  test(`${name}: PubAcks that time out nack the batch; the source delivers again and nothing is lost`, async () => {
    const { fixture, bridge, read } = await setup();
    const t = fixture.tables[0]!;
    const { nc: via, proxy } = await proxiedNats();
    const b = await bridge(fixture.source, { nc: via, ackTimeoutMs: 300 });
    proxy.stall();
    const writes: Write[] = [];
    for (let tx = 0; tx < 4; tx++) {
      const batch: Write[] = [
        { table: t, op: tx === 0 ? "insert" : "update", id: "hot", value: tx },
        { table: t, op: "insert", id: `n${tx}`, value: tx },
      ];
      await fixture.commit(batch);
      writes.push(...batch);
    }
    await waitFor(() => b.stats().batchesNacked > 0, { what: "a nack while NATS is unreachable" });
    proxy.resume();
    const changes = await waitFor(countIs(read, writes.length), { what: "every change after the outage" });
    await b.idle();
    // Late copies of the stalled publishes must not land after the wait above either.
    await waitFor(async () => b.stats().inFlight === 0, { what: "nothing in flight" });
    assertExactlyOnce(await read(), writes);
    assert.ok(changes.length >= writes.length);
  });

  test(`${name}: a bridge stopped before its PubAcks came loses nothing: the reopened source delivers again`, async () => {
    const { fixture, bridge, read } = await setup();
    const t = fixture.tables[0]!;
    const { nc: via, proxy } = await proxiedNats();
    const first = await bridge(fixture.source, { nc: via, ackTimeoutMs: 60_000, drainTimeoutMs: 100 });
    await fixture.commit([{ table: t, op: "insert", id: "x", value: 1 }]);
    await waitFor(countIs(read, 1), { what: "the first change" });
    await first.idle();
    proxy.stall();
    const lost: Write[] = [
      { table: t, op: "update", id: "x", value: 2 },
      { table: t, op: "insert", id: "y", value: 1 },
    ];
    await fixture.commit(lost);
    await waitFor(() => first.stats().inFlight > 0, { what: "publishes waiting for their PubAck" });
    await first.stop();
    // The held bytes never reach NATS: the connection dies with them.
    proxy.cutAll();
    await via.close().catch(() => undefined);
    proxy.resume();
    assert.equal((await read()).length, 1, "nothing of the stalled publishes reached the stream");
    const second = await bridge(await fixture.reopen());
    await waitFor(countIs(read, 3), { what: "the stalled changes, delivered again" });
    await second.idle();
    assertExactlyOnce(await read(), [{ table: t, op: "insert", id: "x", value: 1 }, ...lost]);
  });
}
