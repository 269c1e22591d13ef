import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { sql } from "kysely";
import { listCommands, parseCommandFilter } from "../../src/operations/command-list.js";
import { commandWindow } from "../../src/operations/command-window.js";
import { OperationInputError } from "../../src/operations/inputs.js";
import { listOperatorActions, recordOperatorAction } from "../../src/operations/operator-log.js";
import { pruneExpired } from "../../src/operations/prune.js";
import { redriveDeadLetters } from "../../src/operations/redrive.js";
import { connectDatabase } from "../../src/db/connection.js";
import { logicalSlots } from "../../src/operations/cdc-slots.js";
import { startLogicalPostgres } from "../cdc/postgres-fixture.js";
import { createHarness, type Harness } from "../kit/harness.js";

let h: Harness;
let stream: string;

before(async () => {
  h = await createHarness();
  stream = (await h.startWorker()).stream;
  for (let i = 0; i < 7; i++) await h.send("open_account", { accountId: `q_${i}`, owner: "q" });
  await h.send("open_account", { accountId: "q_0", owner: "again" });
});
after(() => h.close());

test("commands list newest first, page by page without overlap, filtered by name and status", async () => {
  const seen: string[] = [];
  let before: string | undefined;
  for (let pageNo = 0; pageNo < 10; pageNo++) {
    const page = await listCommands(h.database.db, parseCommandFilter(h.domain, { limit: "3", before }));
    seen.push(...page.rows.map((r) => r.id));
    for (let i = 1; i < page.rows.length; i++) assert.ok(page.rows[i - 1]!.receivedAt >= page.rows[i]!.receivedAt);
    if (!page.next) break;
    before = page.next;
  }
  const all = await h.database.db.selectFrom("herald_commands").select("id").where("domain", "=", h.domain).execute();
  assert.equal(seen.length, all.length);
  assert.equal(new Set(seen).size, all.length, "no command twice");
  const rejected = await listCommands(h.database.db, parseCommandFilter(h.domain, { status: "rejected", command: "open_account" }));
  assert.equal(rejected.rows.length, 1);
  const none = await listCommands(h.database.db, parseCommandFilter(h.domain, { command: "deposit" }));
  assert.equal(none.rows.length, 0);
});

test("a malformed or unbounded filter is refused", () => {
  const bad: Array<Record<string, string>> = [
    { since: "last tuesday" },
    { since: "30d" },
    { since: "1h", until: "2h" },
    { limit: "0" },
    { limit: "101" },
    { status: "lost" },
    { command: "Drop Table" },
    { before: "not-a-cursor" },
  ];
  for (const input of bad) assert.throws(() => parseCommandFilter(h.domain, input), OperationInputError, JSON.stringify(input));
});

test("the command window counts what the database holds", async () => {
  const w = await commandWindow(h.database.db, h.domain, 3600);
  const { rows } = await sql<{ status: string; n: string }>`SELECT status, count(*) AS n FROM herald_commands WHERE domain = ${h.domain} GROUP BY status`.execute(h.database.db);
  const count = (s: string) => Number(rows.find((r) => r.status === s)?.n ?? 0);
  assert.equal(w.committed, count("committed"));
  assert.equal(w.rejected, count("rejected"));
  assert.ok(w.p50Ms !== null && w.p99Ms !== null && w.p50Ms <= w.p99Ms);
  await assert.rejects(commandWindow(h.database.db, h.domain, 0), RangeError);
});

test("the operator log is pruned past its retention, and only then", async () => {
  await recordOperatorAction(h.database.db, { operator: "alice", action: "prune", domain: h.domain, target: {}, outcome: "done", detail: "old" });
  await recordOperatorAction(h.database.db, { operator: "bob", action: "replay", domain: h.domain, target: {}, outcome: "failed", detail: "new" });
  await sql`UPDATE herald_operator_actions SET at = now() - INTERVAL '3 hours' WHERE detail = 'old'`.execute(h.database.db);
  const report = await pruneExpired({ db: h.database.db, domain: h.domain, targets: ["operatorActions"], operatorActionRetentionHours: 2 });
  assert.equal(report.operatorActions, 1);
  assert.deepEqual((await listOperatorActions(h.database.db, h.domain)).map((a) => a.detail), ["new"]);
});

test("a redrive whose publish fails puts the dead letter back", async () => {
  const id = "0e7c2d4a-4b1f-4c55-9a3e-2f1d7c9b6a41";
  await sql`INSERT INTO herald_dead_letters (id, consumer, domain, event_id, subject, stream_seq, data, headers, error, deliveries)
    VALUES (${id}, 'c1', ${h.domain}, ${"5b8e2c1e-5c7a-4f55-9a3e-2f1d7c9b6a41"}, ${`${h.domain}.evt.account_opened`}, 1, '{}'::JSONB, '{}'::JSONB, 'boom', 5)`.execute(h.database.db);
  await assert.rejects(
    redriveDeadLetters({ db: h.database.db, js: jetstream(h.nc), domain: h.domain, ids: [id], stream: "NO_SUCH_STREAM", ackTimeoutMs: 2000 }),
    /redriving dead letter/,
  );
  const rows = await h.database.db.selectFrom("herald_dead_letters").select(["id", "deliveries", "error"]).where("id", "=", id).execute();
  assert.deepEqual(rows, [{ id, deliveries: 5, error: "boom" }]);
  // Unknown ids: not found, nothing touched.
  await assert.rejects(redriveDeadLetters({ db: h.database.db, js: jetstream(h.nc), domain: h.domain, ids: ["1e7c2d4a-4b1f-4c55-9a3e-2f1d7c9b6a41"], stream }), /no dead letter/);
  assert.equal((await h.database.db.selectFrom("herald_dead_letters").select("id").execute()).length, 1);
});

test("the CDC slots of the overview are this database's logical slots, with lag and retained WAL", async () => {
  const server = await startLogicalPostgres();
  try {
    const admin = await connectDatabase<any>({ url: server.url, poolMax: 1 });
    try {
      await sql`CREATE DATABASE other_db`.execute(admin.db);
      await sql`SELECT pg_create_logical_replication_slot('console_slot', 'pgoutput')`.execute(admin.db);
      await sql`CREATE TABLE filler (v TEXT)`.execute(admin.db);
      await sql`INSERT INTO filler SELECT repeat('x', 100) FROM generate_series(1, 2000)`.execute(admin.db);
      const other = await connectDatabase<any>({ url: server.urlFor("other_db"), poolMax: 1 });
      try {
        await sql`SELECT pg_create_logical_replication_slot('other_slot', 'pgoutput')`.execute(other.db);
        assert.deepEqual((await logicalSlots(other.db, "postgresql")).map((s) => s.slot), ["other_slot"]);
        await sql`SELECT pg_drop_replication_slot('other_slot')`.execute(other.db);
      } finally {
        await other.destroy();
      }
      const [slot, ...none] = await logicalSlots(admin.db, "postgresql");
      assert.deepEqual(none, []);
      assert.equal(slot!.slot, "console_slot");
      assert.equal(slot!.active, false);
      assert.ok(slot!.lagBytes! > 100_000, `lag ${slot!.lagBytes} counts the WAL written since`);
      assert.ok(slot!.retainedBytes! >= slot!.lagBytes!);
      assert.deepEqual(await logicalSlots(admin.db, "cockroachdb"), [], "CockroachDB has no slots");
      await sql`SELECT pg_drop_replication_slot('console_slot')`.execute(admin.db);
    } finally {
      await admin.destroy();
    }
  } finally {
    await server.dispose();
  }
});
