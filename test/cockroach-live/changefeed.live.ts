import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { sql } from "kysely";
import { createCdcBridge, type CdcBridge } from "../../src/cdc/bridge.js";
import { cdcWildcard } from "../../src/cdc/change-message.js";
import { cockroachChangefeedStatement } from "../../src/cdc/cockroach-setup.js";
import { createCockroachSource, type CockroachWebhookSource } from "../../src/cdc/cockroach-source.js";
import { ensureStream } from "../../src/messaging/stream.js";
import { createStreamPublisher } from "../../src/messaging/stream-publisher.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { uniqueDomain } from "../kit/names.js";
import { connectSharedNats } from "../kit/nats-server.js";
import { readStream, type StreamMessage } from "../kit/stream.js";
import { makeSelfSignedCert } from "../kit/tls-cert.js";
import { waitFor } from "../kit/wait.js";

// A real changefeed into Herald's webhook, with the statement `herald cdc setup`
// prints, and an ALTER TABLE … ADD COLUMN … DEFAULT while it runs: CockroachDB
// then emits the table again with the new column
// (https://www.cockroachlabs.com/docs/v24.3/changefeed-messages#schema-changes-with-column-backfill).
// CockroachDB's nodes must reach this process: HERALD_TEST_WEBHOOK_HOST names
// this host as they see it (default host.docker.internal, which the compose
// file maps for the cockroach service). Run by `npm run test:cockroach` only.

const AUTH = "Basic bGl2ZTpjaGFuZ2VmZWVk";
const WEBHOOK_HOST = process.env.HERALD_TEST_WEBHOOK_HOST ?? "host.docker.internal";
let database: TestDatabase<any>;
let nc: NatsConnection;
let source: CockroachWebhookSource;
let bridge: CdcBridge;
let stream: string;
let jobId: string | undefined;

before(async () => {
  database = await createTestDatabase();
  nc = await connectSharedNats();
  const domain = uniqueDomain("crlive");
  stream = `${domain.toUpperCase()}_CDC`;
  await ensureStream(await jetstreamManager(nc), { name: stream, subjects: [cdcWildcard(domain)] });
  const cert = await makeSelfSignedCert();
  source = createCockroachSource({ host: "0.0.0.0", port: 0, tls: cert, authHeader: AUTH, tables: ["live_accounts"] });
  bridge = createCdcBridge({ publisher: createStreamPublisher(nc), source, domain });
  await bridge.start();
  // Schema, cluster and job statements go by the simple protocol, never prepared.
  await database.pool.query("CREATE TABLE live_accounts (id TEXT PRIMARY KEY, value INT NOT NULL)");
  await database.pool.query("SET CLUSTER SETTING kv.rangefeed.enabled = true");
  // The certificate names 127.0.0.1 and localhost only: the feed skips the name check (tests only).
  const statement = cockroachChangefeedStatement({
    tables: ["live_accounts"],
    url: `https://${WEBHOOK_HOST}:${source.address().port}/changefeed`,
    authHeader: AUTH,
    caCertPem: cert.cert,
    insecureSkipVerify: true,
    resolved: "1s",
  });
  const { rows } = await database.pool.query<{ job_id: string }>(statement);
  jobId = String(rows[0]?.job_id);
});

after(async () => {
  if (jobId) await database.pool.query(`CANCEL JOB ${BigInt(jobId)}`).catch(() => undefined);
  await bridge?.stop().catch(() => undefined);
  await (await jetstreamManager(nc)).streams.delete(stream).catch(() => undefined);
  await nc?.close();
  await database?.drop();
});

const messages = (count: number, what: string, keep: (m: StreamMessage) => boolean = () => true) =>
  waitFor(async () => {
    const list = (await readStream(nc, stream)).filter(keep);
    return list.length >= count ? list : undefined;
  }, { what, timeoutMs: 60_000 });

test("a real changefeed: inserts, an update and a delete arrive once each, with mvcc_timestamp ids", async () => {
  await sql`INSERT INTO live_accounts VALUES ('a', 1), ('b', 2)`.execute(database.db);
  await sql`UPDATE live_accounts SET value = 3 WHERE id = 'a'`.execute(database.db);
  await sql`INSERT INTO live_accounts VALUES ('c', 9)`.execute(database.db);
  await sql`DELETE FROM live_accounts WHERE id = 'c'`.execute(database.db);
  const list = await messages(5, "five changes");
  const seen = list.map((m) => `${m.data.op}:${m.data.key.id}:${m.data.after?.value ?? "-"}`).sort();
  assert.deepEqual(seen, ["delete:c:-", "insert:a:1", "insert:b:2", "insert:c:9", "update:a:3"]);
  assert.ok(list.every((m) => m.data.backfill === undefined), "live changes are not backfill");
  await waitFor(async () => (await source.position()).acknowledged ?? undefined, { what: "a resolved timestamp", timeoutMs: 30_000 });
});

test("ALTER TABLE … ADD COLUMN … DEFAULT during the feed: the rows come again with the column, marked backfill", async () => {
  const before = (await readStream(nc, stream)).length;
  await database.pool.query("ALTER TABLE live_accounts ADD COLUMN region TEXT NOT NULL DEFAULT 'eu'");
  const copies = await messages(2, "the backfill of both rows with the new column", (m) => m.data.after?.region === "eu");
  assert.deepEqual(copies.map((m) => m.data.key.id).sort(), ["a", "b"]);
  assert.ok(copies.every((m) => m.data.backfill === true && m.headers["ce-cdcbackfill"] === "true"), "backfill copies are marked");
  // A change after the schema change is an ordinary one again.
  await sql`UPDATE live_accounts SET value = 4 WHERE id = 'b'`.execute(database.db);
  const [last] = await messages(1, "the update after the backfill", (m) => m.data.after?.value === 4);
  assert.equal(last!.data.backfill, undefined);
  // Old-schema copies a backfill may also emit carry their version's mvcc_timestamp: dropped as duplicates.
  const all = await readStream(nc, stream);
  const oldSchema = all.slice(before).filter((m) => m.data.after && !("region" in m.data.after));
  assert.deepEqual(oldSchema.map((m) => m.data.key.id), [], "no old-schema copy was stored again");
});
