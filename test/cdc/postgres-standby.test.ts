/**
 * Two `herald cdc start` processes on one slot: the second waits as a standby
 * (never streaming while the first does), takes over within seconds of the
 * first's SIGKILL, and the stream holds every committed change once, in
 * commit order per row, under a concurrent workload with rollbacks. A refused
 * START_REPLICATION is the standby's error to retry, never a stream's end (which
 * started a second reconnect loop that kept the slot from the standby itself).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { ChangeBatch } from "../../src/cdc/change-source.js";
import { waitForSlot, OBJECT_IN_USE } from "../../src/cdc/postgres-standby.js";
import { ensurePostgresCdc } from "../../src/cdc/postgres-setup.js";
import { createPostgresSource } from "../../src/cdc/postgres-source.js";
import { startReplication } from "../../src/cdc/replication-connection.js";
import { loadConfig } from "../../src/config.js";
import { connectNats } from "../../src/messaging/connection.js";
import { silentLogger, type Logger } from "../../src/telemetry/logger.js";
import { spawnCli, type CliProcess } from "../kit/cli.js";
import { uniqueDomain } from "../kit/names.js";
import type { PrivatePostgres } from "../kit/postgres-server.js";
import { readStream, streamCount } from "../kit/stream.js";
import { waitFor } from "../kit/wait.js";
import { CDC_TABLE, cdcViolations, createTableSql, finalValues, seedRows, startCdcWorkload } from "../faults/cdc-workload.js";
import { createCdcDatabase, startLogicalPostgres, withClient, type PostgresCdcDatabase } from "./postgres-fixture.js";

let server: PrivatePostgres;
let db: PostgresCdcDatabase;
let nc: NatsConnection;
const domain = uniqueDomain("cdcsb");
const stream = `${domain.toUpperCase()}_CDC`;
const bridges: CliProcess[] = [];

before(async () => {
  server = await startLogicalPostgres();
  db = await createCdcDatabase(server, []);
  await withClient(db.url, (c) => c.query(createTableSql));
  await ensurePostgresCdc({ url: db.url }, { ...db.names, tables: [CDC_TABLE] });
  nc = await connectNats({ servers: loadConfig().NATS_URL });
});

after(async () => {
  for (const b of bridges) b.child.kill("SIGKILL");
  await (await jetstreamManager(nc)).streams.delete(stream).catch(() => undefined);
  await nc?.close();
  await db?.drop();
  await server?.dispose();
});

function spawnBridge(names = db.names): CliProcess {
  const bridge = spawnCli(["cdc", "start"], {
    env: {
      HERALD_DOMAIN: domain,
      HERALD_CDC_DATABASE_URL: db.url,
      HERALD_CDC_TABLES: CDC_TABLE,
      HERALD_CDC_SLOT: names.slot,
      HERALD_CDC_PUBLICATION: names.publication,
      LOG_LEVEL: "warn",
    },
  });
  bridges.push(bridge);
  return bridge;
}

/** The pid of the server process streaming from the slot, or null. */
const activePid = () =>
  withClient(server.url, async (c) => (await c.query("SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", [db.names.slot])).rows[0]?.active_pid as number | null);

test("a standby waits while the active bridge streams, takes over within seconds of its SIGKILL, and every change is in the stream once", async () => {
  await seedRows(db.url, 12);
  const active = spawnBridge();
  await active.waitForLine(/herald cdc ready/, 60_000);
  const streaming = await waitFor(activePid, { what: "the active bridge's walsender" });
  const standby = spawnBridge();
  const workload = startCdcWorkload(db.url, { writers: 3, rows: 12, seed: 5 });
  try {
    await waitFor(() => /waiting as a standby/.test(standby.stderr()), { what: "the standby to find the slot in use", timeoutMs: 30_000 });
    const before = await streamCount(nc, stream);
    await waitFor(async () => (await streamCount(nc, stream)) >= before + 100, { what: "100 changes while the standby waits", timeoutMs: 60_000 });
    assert.equal(await activePid(), streaming, "the first bridge still streams");
    assert.ok(!/herald cdc ready/.test(standby.stdout()), "the standby never streams while the slot is taken");
    assert.equal(standby.child.exitCode, null, "the standby is still waiting");

    active.child.kill("SIGKILL");
    const killedAt = Date.now();
    await standby.waitForLine(/herald cdc ready/, 30_000);
    const takeover = Date.now() - killedAt;
    console.log(`standby took over ${takeover} ms after the SIGKILL`);
    assert.ok(takeover < 15_000, `took over in ${takeover} ms`);
    const after = await streamCount(nc, stream);
    await waitFor(async () => (await streamCount(nc, stream)) >= after + 100, { what: "100 changes after the takeover", timeoutMs: 60_000 });
  } finally {
    await workload.stop();
  }
  const finals = await finalValues(db.url);
  const expected = [...finals.values()].reduce((n, v) => n + v + 1, 0);
  await waitFor(async () => (await streamCount(nc, stream)) >= expected, { what: `${expected} changes`, timeoutMs: 60_000 });
  assert.deepEqual(cdcViolations(await readStream(nc, stream), finals), []);
  standby.child.kill("SIGTERM");
  assert.equal(await standby.stopped(20_000), 0);
});

test("two bridges started at once on a slot and publication neither has made: one streams, the other waits; a waiting standby stops on SIGTERM", async () => {
  const names = { slot: `${db.names.slot}_race`, publication: `${db.names.publication}_race` };
  const both = [spawnBridge(names), spawnBridge(names)];
  const ready = await Promise.any(both.map(async (b, i) => (await b.waitForLine(/herald cdc ready/, 60_000), i)));
  const holder = both[ready]!;
  const standby = both[1 - ready]!;
  await waitFor(() => /waiting as a standby/.test(standby.stderr()), { what: "the other bridge waiting", timeoutMs: 30_000 });
  assert.equal(standby.child.exitCode, null, `the other bridge is still running: ${standby.stderr()}`);
  assert.ok(!/herald cdc ready/.test(standby.stdout()), "only one bridge streams");
  standby.child.kill("SIGTERM");
  assert.equal(await standby.stopped(20_000), 0, standby.stderr());
  holder.child.kill("SIGTERM");
  assert.equal(await holder.stopped(20_000), 0);
  await withClient(server.url, (c) => c.query("SELECT pg_drop_replication_slot($1)", [names.slot]));

  // No deadline and no attempt limit: 200 refusals in a row, then the slot is free.
  let attempts = 0;
  await waitForSlot(
    async () => {
      if (++attempts <= 200) throw Object.assign(new Error("replication slot is active"), { code: OBJECT_IN_USE });
    },
    { retryMs: 1, stopped: () => false, logger: silentLogger },
  );
  assert.equal(attempts, 201);
  // Any other error is not a busy slot: it is thrown at once.
  await assert.rejects(waitForSlot(async () => Promise.reject(Object.assign(new Error("no such slot"), { code: "42704" })), { retryMs: 1, stopped: () => false, logger: silentLogger }), /no such slot/);
});

test("start-up race: a publication another bridge creates at the same moment (23505 from the catalog's unique index) is taken as made", async () => {
  const names = { slot: `${db.names.slot}_dup`, publication: `${db.names.publication}_dup`, tables: [CDC_TABLE] };
  await withClient(db.url, async (other) => {
    // The other bridge's CREATE PUBLICATION, not yet committed: this one passes the existence check and then waits on the index.
    await other.query("BEGIN");
    await other.query(`CREATE PUBLICATION ${names.publication} FOR TABLE ${CDC_TABLE}`);
    const ensured = ensurePostgresCdc({ url: db.url }, names);
    // Asked on a connection of its own: a transaction sees one snapshot of pg_stat_activity.
    await waitFor(
      () => withClient(server.url, async (c) => (await c.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'CREATE PUBLICATION%'")).rows[0].n > 0),
      { what: "the second CREATE PUBLICATION waiting on the first" },
    );
    await other.query("COMMIT");
    const made = await ensured;
    assert.equal(made.publication, false, "the other bridge made it");
    assert.equal(made.slot, true);
  });
  await withClient(server.url, (c) => c.query("SELECT pg_drop_replication_slot($1)", [names.slot]));
});

/** A logger that keeps every message, to assert on what a source in this process said. */
function recordingLogger(): Logger & { messages: string[] } {
  const messages: string[] = [];
  const log = (_obj: object, msg?: string) => void messages.push(msg ?? "");
  const logger = { messages, debug: log, info: log, warn: log, error: log, child: () => logger };
  return logger;
}

test("a refused START_REPLICATION is an error of the start, not the end of a stream: the standby keeps one retry loop and streams once the slot is free", async () => {
  const names = { slot: `${db.names.slot}_ref`, publication: `${db.names.publication}_ref`, tables: [CDC_TABLE] };
  await ensurePostgresCdc({ url: db.url }, names);
  const quiet = { data: () => undefined, keepalive: () => undefined };
  const holder = await startReplication({ url: db.url, ...names, from: 0n }, { ...quiet, ended: () => undefined });
  const slotPid = () =>
    withClient(server.url, async (c) => (await c.query("SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", [names.slot])).rows[0]?.active_pid as number | null);
  const held = await waitFor(slotPid, { what: "the holder's walsender" });
  const logger = recordingLogger();
  const source = createPostgresSource({ url: db.url, ...names, standbyRetryMs: 50, logger });
  const batches: ChangeBatch[] = [];
  try {
    const endings: Array<Error | undefined> = [];
    await assert.rejects(startReplication({ url: db.url, ...names, from: 0n }, { ...quiet, ended: (err) => void endings.push(err) }), { code: OBJECT_IN_USE });
    assert.deepEqual(endings, [], "a stream that never started does not end");
    assert.equal(await slotPid(), held, "the refused start leaves the holder streaming");

    const started = source.start((batch) => {
      batches.push(batch);
      batch.ack();
    });
    await waitFor(() => logger.messages.filter((m) => /waiting as a standby/.test(m)).length > 0, { what: "the source to wait as a standby" });
    assert.equal(await slotPid(), held, "the standby does not take the slot while it is held");
    await holder.close();
    await started;
    await withClient(db.url, (c) => c.query(`INSERT INTO ${CDC_TABLE} (id, value) VALUES ('after-takeover', 1)`));
    await waitFor(() => batches.some((b) => b.changes.some((c) => c.key.id === "after-takeover")), { what: "the change written after the takeover" });
    assert.deepEqual(
      logger.messages.filter((m) => m !== "took over the replication slot"),
      ["the replication slot is in use by another bridge: waiting as a standby"],
      "one retry loop: no refusal taken for a stream's end, no second loop refused by the first",
    );
  } finally {
    await source.stop();
    await holder.close();
    // The walsender of the source may outlive its connection for a moment.
    const drop = () => withClient(server.url, (c) => c.query("SELECT pg_drop_replication_slot($1)", [names.slot])).then(() => true, () => false);
    await waitFor(drop, { what: "the slot to be dropped" });
  }
});
