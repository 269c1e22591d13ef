/**
 * `herald cdc status` on every branch (healthy; exit 3 for an inactive slot,
 * for retained WAL over the threshold, for a `lost` slot, for a watched table
 * missing from the publication), and publication drift at `herald cdc start`:
 * aligned when the user may, refused with the SQL when it may not.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { ensurePostgresCdc } from "../../src/cdc/postgres-setup.js";
import { startReplication } from "../../src/cdc/replication-connection.js";
import { loadConfig } from "../../src/config.js";
import { connectNats } from "../../src/messaging/connection.js";
import { runCli, spawnCli } from "../kit/cli.js";
import { uniqueDomain } from "../kit/names.js";
import { startPostgresServer, type PrivatePostgres } from "../kit/postgres-server.js";
import { streamCount } from "../kit/stream.js";
import { waitFor } from "../kit/wait.js";
import { createCdcDatabase, LOGICAL_SETTINGS, withClient, type PostgresCdcDatabase } from "./postgres-fixture.js";

let server: PrivatePostgres;
let db: PostgresCdcDatabase;
let nc: NatsConnection;
const cleanups: Array<() => Promise<unknown>> = [];

before(async () => {
  // Slots may keep at most 1 MB of WAL beyond what the server needs: one left behind is lost at the next checkpoint.
  server = await startPostgresServer({ settings: { ...LOGICAL_SETTINGS, max_slot_wal_keep_size: "1MB", wal_keep_size: 0 } });
  db = await createCdcDatabase(server, ["t1", "t2"]);
  nc = await connectNats({ servers: loadConfig().NATS_URL });
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await nc?.close();
  await db?.drop();
  await server?.dispose();
});

const env = (names: { slot: string; publication: string }, extra: Record<string, string> = {}) => ({
  HERALD_CDC_DATABASE_URL: db.url,
  HERALD_CDC_SLOT: names.slot,
  HERALD_CDC_PUBLICATION: names.publication,
  HERALD_CDC_TABLES: undefined,
  HERALD_DOMAIN: undefined,
  LOG_LEVEL: "warn",
  ...extra,
});

async function status(names: { slot: string; publication: string }, args: string[] = []) {
  const r = await runCli(["cdc", "status", "--json", ...args], { env: env(names) });
  return { code: r.code, stderr: r.stderr, json: r.stdout ? JSON.parse(r.stdout) : undefined };
}

/** Writes about `mb` MiB of WAL in the database. */
const writeWal = (mb: number) =>
  withClient(db.url, async (c) => {
    await c.query("CREATE TABLE IF NOT EXISTS junk (id serial, doc text)");
    await c.query(`INSERT INTO junk (doc) SELECT md5(g::text) || repeat('x', 990) FROM generate_series(1, ${mb * 1000}) g`);
  });

/** A slot of its own over t1, and a replication connection that streams from it but never confirms anything. */
async function heldSlot(suffix: string) {
  const names = { slot: `${db.names.slot}_${suffix}`, publication: `${db.names.publication}_${suffix}` };
  await ensurePostgresCdc({ url: db.url }, { ...names, tables: ["t1"] });
  cleanups.push(() => withClient(server.url, (c) => c.query("SELECT pg_drop_replication_slot($1)", [names.slot])));
  return names;
}

test("cdc status: healthy while streaming (exit 0); exit 3 for retained WAL over the threshold and for an inactive slot, each named", async () => {
  const names = await heldSlot("st");
  const conn = await startReplication({ url: db.url, ...names, from: 0n }, { data: () => undefined, keepalive: () => undefined, ended: () => undefined });
  try {
    const healthy = await status(names, ["--max-retained-mb", "1024"]);
    assert.equal(healthy.code, 0, healthy.stderr);
    assert.equal(healthy.json.active, true);
    assert.deepEqual(healthy.json.problems, []);

    await writeWal(3);
    const retaining = await status(names, ["--max-retained-mb", "1"]);
    assert.equal(retaining.code, 3);
    assert.equal(retaining.json.active, true, "the slot is active: only the retained WAL is wrong");
    assert.ok(retaining.json.retainedBytes > 1024 * 1024);
    assert.equal(retaining.json.problems.length, 1);
    assert.match(retaining.stderr, /retains \d+ MiB of WAL \(threshold 1 MiB\)/);
  } finally {
    await conn.close();
  }
  const inactive = await waitFor(async () => {
    const s = await status(names, ["--max-retained-mb", "1024"]);
    return s.json.active === false ? s : undefined;
  }, { what: "the slot inactive" });
  assert.equal(inactive.code, 3);
  assert.deepEqual(inactive.json.problems, ["no bridge is streaming from it"]);
});

test("cdc status: exit 3 for a slot the server lost (max_slot_wal_keep_size exceeded)", async () => {
  const names = await heldSlot("lost");
  // An inactive slot keeps its WAL until it exceeds max_slot_wal_keep_size; a checkpoint then invalidates it.
  const lost = await waitFor(async () => {
    await writeWal(2);
    await withClient(db.url, async (c) => {
      await c.query("SELECT pg_switch_wal()");
      await c.query("CHECKPOINT");
    });
    const s = await status(names, ["--max-retained-mb", "1024"]);
    return s.json.walStatus === "lost" ? s : undefined;
  }, { what: "the slot lost", timeoutMs: 60_000 });
  assert.equal(lost.code, 3);
  assert.ok(lost.json.problems.some((p: string) => /wal_status lost/.test(p)), lost.stderr);
  assert.match(lost.stderr, /the slot must be recreated/);
});

test("publication drift: cdc status exits 3 naming the missing table; cdc start refuses a user that may not add it, and adds it as the owner", async () => {
  const names = { slot: `${db.names.slot}_pd`, publication: `${db.names.publication}_pd` };
  await ensurePostgresCdc({ url: db.url }, { ...names, tables: ["t1"] });
  cleanups.push(() => withClient(server.url, (c) => c.query("SELECT pg_drop_replication_slot($1)", [names.slot])));

  const drift = await status(names, ["--table", "t1,t2"]);
  assert.equal(drift.code, 3);
  assert.deepEqual(drift.json.missingFromPublication, ["public.t2"]);
  assert.match(drift.stderr, new RegExp(`ALTER PUBLICATION ${names.publication} ADD TABLE public\\.t2;`));

  // A user with REPLICATION and SELECT, but not the tables' owner: it may not alter the publication.
  await withClient(db.url, async (c) => {
    await c.query("CREATE ROLE cdc_reader LOGIN REPLICATION");
    await c.query("GRANT SELECT ON t1, t2 TO cdc_reader");
  });
  const domain = uniqueDomain("cdcpd");
  const stream = `${domain.toUpperCase()}_CDC`;
  cleanups.push(async () => (await jetstreamManager(nc)).streams.delete(stream));
  const readerUrl = db.url.replace("postgres@", "cdc_reader@");
  const refused = await runCli(["cdc", "start", "--table", "t1,t2"], { env: env(names, { HERALD_DOMAIN: domain, HERALD_CDC_DATABASE_URL: readerUrl }) });
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, new RegExp(`publication ${names.publication} lacks the watched table\\(s\\) public\\.t2`));
  assert.match(refused.stderr, new RegExp(`ALTER PUBLICATION ${names.publication} ADD TABLE public\\.t2;`));
  assert.equal((await status(names, ["--table", "t1,t2"])).code, 3, "nothing changed");

  // The owner's bridge adds it, and t2's changes reach the stream.
  const bridge = spawnCli(["cdc", "start", "--table", "t1,t2"], { env: env(names, { HERALD_DOMAIN: domain }) });
  cleanups.push(async () => bridge.child.kill("SIGKILL"));
  await bridge.waitForLine(/herald cdc ready/, 60_000);
  assert.match(bridge.stderr(), /added watched tables the publication lacked/);
  await withClient(db.url, (c) => c.query("INSERT INTO t2 VALUES ('x', 1)"));
  await waitFor(async () => (await streamCount(nc, stream).catch(() => 0)) >= 1, { what: "t2's change in the stream" });
  const aligned = await status(names, ["--table", "t1,t2"]);
  assert.deepEqual(aligned.json.missingFromPublication, []);
  assert.equal(aligned.code, 0, aligned.stderr);
  bridge.child.kill("SIGTERM");
  assert.equal(await bridge.stopped(20_000), 0);
});
