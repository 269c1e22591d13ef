/**
 * What a PostgreSQL change carries, by replica identity: `before` images under
 * REPLICA IDENTITY FULL (and none under DEFAULT), the key from the primary key
 * either way, unchanged TOASTed values, and updates that change the key.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { createCdcBridge, type CdcBridge } from "../../src/cdc/bridge.js";
import { cdcWildcard } from "../../src/cdc/change-message.js";
import { createPostgresSource } from "../../src/cdc/postgres-source.js";
import { loadConfig } from "../../src/config.js";
import { connectNats } from "../../src/messaging/connection.js";
import { ensureStream } from "../../src/messaging/stream.js";
import { uniqueDomain } from "../kit/names.js";
import type { PrivatePostgres } from "../kit/postgres-server.js";
import { readStream, type StreamMessage } from "../kit/stream.js";
import { waitFor } from "../kit/wait.js";
import { createCdcDatabase, startLogicalPostgres, withClient, type PostgresCdcDatabase } from "./postgres-fixture.js";
import { createStreamPublisher } from "../../src/messaging/stream-publisher.js";

const FULL = "cdc_full";
const PLAIN = "cdc_plain";
/** Large and random enough that PostgreSQL stores it out of line (TOAST) rather than compressing it inline. */
const BIG = "SELECT string_agg(md5(g::text || random()::text), '') FROM generate_series(1, 200) g";

let server: PrivatePostgres;
let db: PostgresCdcDatabase;
let nc: NatsConnection;
let bridge: CdcBridge;
let stream: string;

before(async () => {
  server = await startLogicalPostgres();
  db = await createCdcDatabase(server, []);
  await withClient(db.url, async (c) => {
    for (const t of [FULL, PLAIN]) await c.query(`CREATE TABLE ${t} (id text PRIMARY KEY, value int NOT NULL, doc text)`);
    await c.query(`ALTER TABLE ${FULL} REPLICA IDENTITY FULL`);
  });
  nc = await connectNats({ servers: loadConfig().NATS_URL });
  const domain = uniqueDomain("cdcimg");
  stream = `${domain.toUpperCase()}_CDC`;
  await ensureStream(await jetstreamManager(nc), { name: stream, subjects: [cdcWildcard(domain)] });
  bridge = createCdcBridge({ publisher: createStreamPublisher(nc), source: createPostgresSource(db.sourceOptions({ tables: [FULL, PLAIN] })), domain });
  await bridge.start();
});

after(async () => {
  await bridge?.stop();
  await (await jetstreamManager(nc)).streams.delete(stream).catch(() => undefined);
  await nc?.close();
  await db?.drop();
  await server?.dispose();
});

/**
 * Commits `sql` in one transaction and returns the `count` messages it added to the stream,
 * in the transaction's order (changes of different keys may be stored in any order).
 */
async function changesOf(sql: string[], count: number): Promise<StreamMessage[]> {
  const seen = (await readStream(nc, stream)).length;
  await withClient(db.url, async (c) => {
    await c.query("BEGIN");
    for (const s of sql) await c.query(s);
    await c.query("COMMIT");
  });
  const all = await waitFor(async () => {
    const list = await readStream(nc, stream);
    return list.length >= seen + count ? list : undefined;
  }, { what: `${count} new changes` });
  return all.slice(seen).sort((a, b) => Number(a.headers["ce-cdcseq"]) - Number(b.headers["ce-cdcseq"]));
}

const body = (m: StreamMessage) => ({ subject: m.subject.split(".").slice(-2).join("."), key: m.data.key, before: m.data.before, after: m.data.after });

test("REPLICA IDENTITY FULL: updates and deletes carry the whole old row; the key is still the primary key", async () => {
  await changesOf([`INSERT INTO ${FULL} VALUES ('a', 1, 'x')`], 1);
  const [update] = await changesOf([`UPDATE ${FULL} SET value = 2 WHERE id = 'a'`], 1);
  assert.deepEqual(body(update!), {
    subject: `${FULL}.update`,
    key: { id: "a" },
    before: { id: "a", value: 1, doc: "x" },
    after: { id: "a", value: 2, doc: "x" },
  });
  const [deleted] = await changesOf([`DELETE FROM ${FULL} WHERE id = 'a'`], 1);
  assert.deepEqual(body(deleted!), { subject: `${FULL}.delete`, key: { id: "a" }, before: { id: "a", value: 2, doc: "x" }, after: null });
});

test("REPLICA IDENTITY DEFAULT: no before image, and a delete names its key", async () => {
  await changesOf([`INSERT INTO ${PLAIN} VALUES ('a', 1, 'x')`], 1);
  const [update] = await changesOf([`UPDATE ${PLAIN} SET value = 2 WHERE id = 'a'`], 1);
  assert.deepEqual(body(update!), { subject: `${PLAIN}.update`, key: { id: "a" }, before: null, after: { id: "a", value: 2, doc: "x" } });
  const [deleted] = await changesOf([`DELETE FROM ${PLAIN} WHERE id = 'a'`], 1);
  assert.deepEqual(body(deleted!), { subject: `${PLAIN}.delete`, key: { id: "a" }, before: null, after: null });
});

test("an unchanged TOASTed value is in `after` under FULL, and absent (not null) under DEFAULT", async () => {
  const [inserted] = await changesOf([`INSERT INTO ${FULL} VALUES ('big', 1, (${BIG}))`, `INSERT INTO ${PLAIN} VALUES ('big', 1, (${BIG}))`], 2);
  const doc = inserted!.data.after.doc as string;
  assert.equal(doc.length, 200 * 32);
  const [full, plain] = await changesOf([`UPDATE ${FULL} SET value = 2 WHERE id = 'big'`, `UPDATE ${PLAIN} SET value = 2 WHERE id = 'big'`], 2);
  assert.equal(full!.data.after.doc, doc);
  assert.equal(full!.data.before.doc, doc);
  assert.equal(plain!.data.after.value, 2);
  assert.ok(!("doc" in plain!.data.after), "pgoutput leaves the unchanged TOASTed value out without a full old row");
});

test("an update that changes the primary key is the old key's delete, then the new key's insert", async () => {
  await changesOf([`INSERT INTO ${FULL} VALUES ('k1', 1, 'x')`, `INSERT INTO ${PLAIN} VALUES ('k1', 1, 'x')`], 2);
  const moved = await changesOf([`UPDATE ${FULL} SET id = 'k2', value = 5 WHERE id = 'k1'`, `UPDATE ${PLAIN} SET id = 'k2', value = 5 WHERE id = 'k1'`], 4);
  assert.deepEqual(moved.map(body), [
    { subject: `${FULL}.delete`, key: { id: "k1" }, before: { id: "k1", value: 1, doc: "x" }, after: null },
    { subject: `${FULL}.insert`, key: { id: "k2" }, before: null, after: { id: "k2", value: 5, doc: "x" } },
    { subject: `${PLAIN}.delete`, key: { id: "k1" }, before: null, after: null },
    { subject: `${PLAIN}.insert`, key: { id: "k2" }, before: null, after: { id: "k2", value: 5, doc: "x" } },
  ]);
  assert.equal(new Set(moved.map((m) => m.headers["Nats-Msg-Id"])).size, 4, "each half has its own msg-id");
  assert.deepEqual(moved.map((m) => Number(m.headers["ce-cdcseq"])), [0, 1, 2, 3], "the halves are numbered in the transaction's order");
});

test("TRUNCATE is a message of its own, stored after every earlier change of the table and before every later one", async () => {
  // Many rows in flight at once, the truncate and a later row in the same transaction: only the bridge's barrier orders them.
  const rows = Array.from({ length: 50 }, (_, i) => `('t${i}', ${i}, 'x')`).join(", ");
  const seen = (await readStream(nc, stream)).length;
  // Each update waits for its row's insert to be acked; a truncate sent at once would overtake them.
  const sql = [`INSERT INTO ${PLAIN} VALUES ${rows}`, `UPDATE ${PLAIN} SET value = value + 1 WHERE id LIKE 't%'`, `INSERT INTO ${FULL} VALUES ('t0', 0, 'x')`, `TRUNCATE ${FULL}, ${PLAIN}`, `INSERT INTO ${PLAIN} VALUES ('after', 4, 'y')`];
  const changes = await changesOf(sql, 104);
  assert.deepEqual(changes.slice(101, 103).map(body), [
    { subject: `${FULL}.truncate`, key: {}, before: null, after: null },
    { subject: `${PLAIN}.truncate`, key: {}, before: null, after: null },
  ]);
  for (const m of changes) assert.equal(m.data.position, m.headers["ce-cdcposition"], "the commit position is carried");
  // Stream order (not seq order): PLAIN's truncate after its 50 inserts, and before the row written after it.
  const stored = (await readStream(nc, stream)).slice(seen).filter((m) => m.subject.includes(`.${PLAIN}.`)).map((m) => m.subject.split(".").at(-1));
  assert.deepEqual(stored, [...Array(50).fill("insert"), ...Array(50).fill("update"), "truncate", "insert"]);
});
