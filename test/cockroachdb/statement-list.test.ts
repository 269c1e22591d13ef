import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { after, before, test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders, type NatsConnection } from "@nats-io/nats-core";
import type { Kysely } from "kysely";
import { bankApp } from "../../examples/bank/index.js";
import { ordersApp } from "../../examples/orders/index.js";
import { deposit } from "../../examples/bank/index.js";
import { createClient } from "../../src/client/client.js";
import { recordRejection } from "../../src/reactor/rejections.js";
import { silentLogger } from "../../src/telemetry/logger.js";
import { cockroachSetupSql } from "../../src/cdc/cockroach-setup.js";
import { startConsumer } from "../../src/consumer/consume.js";
import { LICENSE_STATEMENT } from "../../src/db/license-check.js";
import { cdcGrantsSql } from "../../src/security/cdc-role.js";
import { connectDatabase, type Database } from "../../src/db/connection.js";
import { migrateApp } from "../../src/db/migrate-app.js";
import { coreMigrationsFolder, HERALD_BOOKKEEPING_TABLES, workerUsesTable } from "../../src/db/migrator.js";
import { MigrationLock, readMigrationLock } from "../../src/db/migration-lock.js";
import { multiRegionSql } from "../../src/db/multi-region.js";
import { recordPublishFailure, unpublishedEventsOf } from "../../src/outbox/store.js";
import { outboxStatus } from "../../src/operations/outbox-status.js";
import { pruneExpired } from "../../src/operations/prune.js";
import { replayEvents } from "../../src/operations/replay.js";
import { loadCommandTrace } from "../../src/operations/trace.js";
import { readDatabaseGrants } from "../../src/security/db-grants.js";
import { consoleGrantsSql } from "../../src/security/console-role.js";
import { listCommands, parseCommandFilter } from "../../src/operations/command-list.js";
import { commandWindow } from "../../src/operations/command-window.js";
import { deadLetterCounts, listDeadLetters } from "../../src/operations/dead-letters.js";
import { domainExists, knownDomains, writableHeraldTables } from "../../src/operations/domains.js";
import { logicalSlots } from "../../src/operations/cdc-slots.js";
import { listOperatorActions, recordedAction } from "../../src/operations/operator-log.js";
import { redriveDeadLetters } from "../../src/operations/redrive.js";
import { alterRolePasswordSql, rotateDatabasePasswords } from "../../src/identity/db-passwords.js";
import { isRevoked, liveKeysOf, recordIssuance, recordRevocation } from "../../src/identity/identity-store.js";
import { grantsSql } from "../../src/security/grants.js";
import { tablesInMigrations } from "../../src/security/sql-tables.js";
import { startWorker, type Worker } from "../../src/worker/worker.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { uniqueDomain, uniqueKey } from "../kit/names.js";
import { connectSharedNats } from "../kit/nats-server.js";
import { openStatementLog, shapesOf, splitStatements, statementShape } from "../kit/statement-log.js";
import { waitFor } from "../kit/wait.js";
import { AUDIT_GROUPS, AUDITED_STATEMENTS, unaudited } from "./audited-statements.js";

/**
 * Every statement Herald sends in representative runs (migrate, workers of the
 * bank and orders apps with group commit, rejections and duplicates, the relay,
 * a consumer with a dead letter, the ops commands, the grants audit) and every
 * statement it generates for an admin (grants, multi-region DDL) must be one
 * audited for CockroachDB (docs/cockroachdb.md).
 */
let database: TestDatabase<any>;
let nc: NatsConnection;
const workers: Worker[] = [];
const handles: Database<any>[] = [];
const bank = uniqueDomain("sbank");
const orders = uniqueDomain("sord");
const log = openStatementLog();
const encoder = new TextEncoder();
/** The shapes the representative run recorded (set by the first test). */
let recorded: string[] = [];

async function send(domain: string, command: string, body: unknown, key = uniqueKey()): Promise<any> {
  const h = natsHeaders();
  h.set("Idempotency-Key", key);
  const msg = await nc.request(`${domain}.cmd.${command}`, encoder.encode(JSON.stringify(body)), { headers: h, timeout: 30_000 });
  return msg.json();
}

before(async () => {
  log.close();
  database = await createTestDatabase();
  nc = await connectSharedNats();
});
after(async () => {
  log.close();
  await Promise.allSettled(workers.map((w) => w.stop()));
  await Promise.allSettled(handles.map((h) => h.destroy()));
  if (nc) {
    const jsm = await jetstreamManager(nc);
    for (const d of [bank, orders]) await jsm.streams.delete(`${d.toUpperCase()}_EVENTS`).catch(() => undefined);
    await nc.close();
  }
  await database?.drop();
});

/** What `herald console` reads and does, through src/operations/: listings, the window, a failed and a done redrive, the log. */
async function consoleRun(db: Kysely<any>): Promise<void> {
  assert.equal(await domainExists(db, bank), true);
  const first = await listCommands(db, parseCommandFilter(bank, { limit: "2" }));
  await listCommands(db, parseCommandFilter(bank, { before: first.next, command: "deposit", status: "committed" }));
  await commandWindow(db, bank, 60);
  await deadLetterCounts(db, bank);
  const letters = await listDeadLetters(db, { domain: bank, consumer: "audit" });
  const ids = letters.map((l) => l.id);
  const js = jetstream(nc);
  await assert.rejects(redriveDeadLetters({ db, js, domain: bank, ids, stream: "NO_SUCH_STREAM", ackTimeoutMs: 1000 }));
  await recordedAction(db, { operator: "operator", action: "redrive", domain: bank, target: { ids } }, () => redriveDeadLetters({ db, js, domain: bank, ids, stream: `${bank.toUpperCase()}_EVENTS` }), (r) => `${r.length}`);
  await listOperatorActions(db, bank);
  await logicalSlots(db, "postgresql");
  await writableHeraldTables(db, ["herald_commands"]);
  await knownDomains(db, 50);
}

test("every statement of a representative run is in the audited list", async () => {
  const run = openStatementLog();
  try {
    // A worker's own handle: the dialect query on connect is recorded too.
    const db = await connectDatabase<any>({ url: database.url, poolMax: 10 });
    handles.push(db);
    await migrateApp(db.db, bankApp);
    await migrateApp(db.db, ordersApp);
    await migrateApp(db.db, bankApp); // up to date: only the lock and the listing
    const outbox = { intervalMs: 50, graceMs: 0 };
    workers.push(await startWorker({ app: bankApp, nc, db: db.db, domain: bank, outbox }));
    workers.push(await startWorker({ app: ordersApp, nc, db: db.db, domain: orders, outbox }));

    // Lone commands, a rejection, a duplicate and a reused key.
    const key = uniqueKey();
    assert.equal((await send(bank, "open_account", { accountId: "a", owner: "A", initialBalance: 100 }, key)).status, "committed");
    assert.equal((await send(bank, "open_account", { accountId: "a", owner: "A", initialBalance: 100 }, key)).duplicate, true);
    await send(bank, "open_account", { accountId: "b", owner: "B" });
    assert.equal((await send(bank, "transfer", { from: "a", to: "b", amount: 1_000 })).status, "rejected");
    await send(bank, "deposit", { accountId: "a", amount: 5 }, key); // key reused for another subject
    // The same key again after its row exists: the lone path's unique violation and replay.
    const raced = uniqueKey();
    await Promise.all([send(bank, "deposit", { accountId: "b", amount: 1 }, raced), send(bank, "deposit", { accountId: "b", amount: 1 }, raced)]);
    // Group commit: many commands at once share transactions, with rejections and duplicates among them.
    const burst = Array.from({ length: 40 }, (_, i) => i);
    const shared = uniqueKey();
    await Promise.all(
      burst.map((i) =>
        i % 10 === 0 ? send(bank, "transfer", { from: "b", to: "a", amount: 1_000_000 }) : send(bank, "deposit", { accountId: i % 2 ? "a" : "b", amount: 1 }, i % 7 === 0 ? shared : uniqueKey()),
      ),
    );
    // Duplicates inside group commit: keys stored by the burst above, sent again at once.
    await Promise.all(burst.map((i) => send(bank, "deposit", { accountId: "a", amount: 1 }, i % 2 ? shared : raced)));
    const item = (sku: string) => ({ sku, quantity: 1, unitPrice: 10 });
    await Promise.all(burst.map((i) => send(orders, "place_order", { orderId: `o${i}`, customerId: `c${i % 3}`, items: [item("tea")] })));
    await send(orders, "cancel_order", { orderId: "o1", reason: "changed my mind" });
    await send(orders, "cancel_order", { orderId: "nope" });

    // A consumer with an inbox and its applied position, and one event it gives up on.
    const consumer = await startConsumer(
      {
        nc,
        db: db.db,
        domain: bank,
        durable: "audit",
        maxDeliver: 1,
        async handle(event) {
          if (event.name === "account_opened" && (event.data as { accountId: string }).accountId === "b") throw new Error("refused");
        },
      },
      { positionRefreshMs: 0 },
    );
    try {
      await waitFor(() => (consumer.stats.processed >= 3 && consumer.stats.deadLettered >= 1) || undefined, { what: "consumer applied events and dead-lettered one", timeoutMs: 30_000 });
      // A client waiting for it (the applied look-ups), and a reactor whose command is rejected.
      const bankClient = createClient(nc, { domain: bank });
      const waited = await bankClient.send(deposit, { accountId: "b", amount: 1 }, { awaitConsumers: ["audit"], awaitTimeoutMs: 10_000 });
      assert.equal(waited.status === "committed" && waited.appliedBy?.[0], "audit");
      // The chain example's commands.
      // An order of its own: the burst's customers hit the open-order limit, so which burst orders exist varies.
      assert.equal((await send(orders, "place_order", { orderId: "chain1", customerId: "c-chain", items: [item("tea")] })).status, "committed");
      assert.equal((await send(bank, "reserve_funds", { reservationId: "chain1", accountId: "b", amount: 1 })).status, "committed");
      const paid = await send(orders, "record_payment", { orderId: "chain1", payment: "reserved" });
      assert.equal(paid.status, "committed", JSON.stringify(paid));
      await recordRejection(
        db.db,
        { reactor: "audit_reactor", eventId: randomUUID(), subject: `${bank}.cmd.deposit`, idempotencyKey: uniqueKey(), reply: { status: "rejected", commandId: randomUUID(), idempotencyKey: "k", duplicate: false, error: { code: "x", message: "y" } } },
        silentLogger,
      );
    } finally {
      await consumer.stop();
    }

    // The relay leases what is left once its grace is over; wait until the backlog is gone.
    await waitFor(async () => ((await outboxStatus(db.db, { domain: bank })).pending === 0 ? true : undefined), { what: "outbox drained", timeoutMs: 30_000 });
    // Ops commands.
    const traced = await loadCommandTrace(db.db, key, bank);
    await loadCommandTrace(db.db, traced.id);
    // Paths a healthy run does not take: a failed publish, an ambiguous commit's re-read, a held lock.
    await recordPublishFailure(db.db, traced.events.map((e) => e.id));
    await unpublishedEventsOf(db.db, traced.id);
    await readMigrationLock(db.db, "herald_migration_lock");
    const lock = new MigrationLock({ table: "herald_migration_lock", lockTimeoutMs: 0 });
    assert.equal(await lock.tryAcquire(db.db), true);
    assert.equal(await lock.renew(db.db), true);
    await lock.release(db.db);
    await replayEvents({ db: db.db, domain: bank, dryRun: true, batchSize: 5 });
    await replayEvents({ db: db.db, js: jetstream(nc), domain: bank, subject: `${bank}.evt.*`, since: new Date(0), until: new Date(Date.now() + 60_000), batchSize: 100 });
    await pruneExpired({ db: db.db, dryRun: true });
    await pruneExpired({ db: db.db, domain: bank, eventRetentionHours: 0, pauseMs: 0 });
    await consoleRun(db.db);
    await readDatabaseGrants(db.db);
    // `herald events/outbox/replay` without --domain ask for the domains.
    assert.deepEqual((await knownDomains(db.db)).sort(), [bank, orders].sort());
    // The identity issuer's record and revocations, and the password rotation's role lookup.
    const nkey = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";
    await recordIssuance(db.db, { subject: "s", issuer: "https://idp", domain: bank, role: "worker", nkey, expiresAt: new Date(), tokenId: "j" });
    await isRevoked(db.db, "s", nkey, new Date());
    await liveKeysOf(db.db, "s");
    await recordRevocation(db.db, "key", nkey);
    await rotateDatabasePasswords({ db: db.db, dir: "/nonexistent", domains: [bank], validForSeconds: 60 }).catch(() => undefined);
    await Promise.all(workers.splice(0).map((w) => w.stop()));
  } finally {
    run.close();
  }
  const heraldTables = await tablesInMigrations(coreMigrationsFolder());
  const workerTables = heraldTables.filter(workerUsesTable);
  const generated = [
    grantsSql({ domain: "bank", heraldTables: workerTables, domainTables: ["bank_accounts"], dialect: "cockroachdb" }),
    grantsSql({ domain: "bank", heraldTables: workerTables, domainTables: ["bank_accounts"], dialect: "postgresql" }),
    multiRegionSql({ regions: "us-east1,us-west1,europe-west1", survive: "region", tables: [...heraldTables, ...HERALD_BOOKKEEPING_TABLES], app: { domain: "bank", tables: ["bank_accounts"] } }),
    cdcGrantsSql({ domain: "bank", tables: ["bank_accounts"], dialect: "cockroachdb" }),
    cockroachSetupSql({ tables: ["bank_accounts"], url: "https://cdc:8443/changefeed", authHeader: "Basic aDpw", caCertPem: "-----BEGIN CERTIFICATE-----" }),
    // Sent by `herald start` on CockroachDB only.
    LICENSE_STATEMENT,
    alterRolePasswordSql("herald_bank_worker", "p", new Date()),
    consoleGrantsSql({ domain: "bank", heraldTables, actions: true, dialect: "cockroachdb" }),
    consoleGrantsSql({ domain: "bank", heraldTables, actions: true, dialect: "postgresql" }),
  ];
  const shapes = shapesOf([...run.texts, ...generated]);
  recorded = shapesOf(run.texts);
  const missing = unaudited(shapes);
  assert.deepEqual(
    missing,
    [],
    `${missing.length} statement shape(s) are not in the audited list. Check each against CockroachDB's documentation, then add it,\n` +
      "exactly as printed, to test/cockroachdb/audited-statements.ts with the id of its row in docs/cockroachdb.md's table\n" +
      "(add the row there if the statement is new):\n\n" +
      missing.map((s) => `  ${JSON.stringify(s)},`).join("\n"),
  );
  assert.ok(shapes.length > 30, `the run recorded only ${shapes.length} shapes: is the recorder still hooked in?`);
});

test("the shape of a statement hides its values but not its structure", () => {
  assert.equal(statementShape("UPDATE t SET v = $1 WHERE id IN ($2, $3, $4)"), "UPDATE t SET v = $? WHERE id IN ($?, …)");
  assert.equal(statementShape("INSERT INTO t VALUES ('a''b', 1, E'x\\\\y'), ('c', 22, 'z')"), "INSERT INTO t VALUES ('?', ?, '?'), …");
  assert.equal(statementShape('SELECT * FROM "herald_migration_bank_lock" JOIN herald_t_0a1b ON x1 = 2'), 'SELECT * FROM "herald_migration{app}_lock" JOIN {database} ON x1 = ?');
  assert.equal(statementShape("UPDATE t SET v = x.v FROM (VALUES ($1, $2)) AS x (id, v)"), statementShape("UPDATE t SET v = x.v FROM (VALUES ($1, $2), ($3, $4)) AS x (id, v)"));
  assert.notEqual(statementShape("DELETE FROM t WHERE a = $1"), statementShape("DELETE FROM t WHERE b = $1"));
  assert.deepEqual(splitStatements("BEGIN; INSERT INTO t VALUES (';'); -- a; comment\nCOMMIT"), ["BEGIN", "INSERT INTO t VALUES (';')", "COMMIT"]);
  assert.deepEqual(splitStatements("DO $$ BEGIN PERFORM 1; END $$; SELECT 1"), ["DO $$ BEGIN PERFORM 1; END $$", "SELECT 1"]);
});

test("an unaudited statement is named in the failure", () => {
  assert.deepEqual(unaudited(["SELECT pg_advisory_lock($?)"]), ["SELECT pg_advisory_lock($?)"]);
  assert.deepEqual(unaudited([AUDITED_STATEMENTS[0]!.shape]), []);
});

test("the audited list and docs/cockroachdb.md's table name the same statement rows", async () => {
  const doc = await readFile(new URL("../../docs/cockroachdb.md", import.meta.url), "utf8");
  const documented = [...doc.matchAll(/^\| (S\d+) \|/gm)].map((m) => m[1]!);
  const listed = AUDIT_GROUPS.map((g) => g.row);
  assert.equal(new Set(listed).size, listed.length, "each row once in audited-statements.ts");
  assert.deepEqual([...listed].sort(), [...documented].sort(), "rows of audited-statements.ts and of the table in docs/cockroachdb.md");
  for (const row of doc.split("\n").filter((l) => /^\| [SF]\d+ \|/.test(l))) {
    assert.match(row, /\]\(https:\/\/[^)]+\)/, `every row links the page that says so: ${row.slice(0, 60)}`);
  }
});

/** Rows of `(VALUES (…)) AS v`: a table built from parameters, typed by nothing but its own casts. */
function untypedValuesPlaceholders(shape: string): string[] {
  const found: string[] = [];
  for (const m of shape.matchAll(/\(VALUES \(((?:[^()]|\([^()]*\))*)\)(?:, …)?\) AS (\w+)/g)) {
    const items = m[1]!.split(", ");
    items.forEach((item, i) => {
      if (item === "$?") found.push(`column ${i + 1} of VALUES … AS ${m[2]}`);
    });
  }
  return found;
}

test(
  "every parameter in a VALUES table carries a cast: CockroachDB cannot infer its type",
  () => {
    assert.ok(recorded.length > 0, "needs the representative run");
    const offending = recorded.map((s) => ({ s, where: untypedValuesPlaceholders(s) })).filter((o) => o.where.length > 0);
    assert.deepEqual(
      offending.map((o) => `${o.where.join(", ")}: ${o.s.slice(0, 120)}…`),
      [],
      "CockroachDB answers `could not determine data type of placeholder` for an uncast parameter in VALUES (cockroachdb/cockroach#41558)",
    );
  },
);

test("the VALUES check finds an uncast parameter and accepts cast ones", () => {
  assert.deepEqual(untypedValuesPlaceholders("UPDATE t SET a = v.a FROM (VALUES ($?::UUID, $?), …) AS v (id, a) WHERE t.id = v.id"), ["column 2 of VALUES … AS v"]);
  assert.deepEqual(untypedValuesPlaceholders("UPDATE t SET a = v.a FROM (VALUES ($?::UUID, $?::TEXT), …) AS v (id, a)"), []);
  assert.deepEqual(untypedValuesPlaceholders("INSERT INTO t (a, b) VALUES ($?, $?), …"), [], "an INSERT's VALUES is typed by its columns");
});
