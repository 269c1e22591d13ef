import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { sql } from "kysely";
import { runCli } from "../kit/cli.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { connectSharedNats, freePort } from "../kit/nats-server.js";
import { uniqueDomain } from "../kit/names.js";
import { readStream } from "../kit/stream.js";
import { waitFor } from "../kit/wait.js";

let database: TestDatabase<any>;
let nc: NatsConnection;
const domain = uniqueDomain("demo");
const stream = `${domain.toUpperCase()}_EVENTS`;

before(async () => {
  database = await createTestDatabase();
  nc = await connectSharedNats();
});
after(async () => {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(stream).catch(() => undefined);
  await nc.close();
  await database.drop();
});

test("herald demo --json: every guarantee holds and its numbers match the database and the stream", async () => {
  const run = await runCli(["demo", "--json", "--domain", domain, "--transfers", "200"], { env: { DATABASE_URL: database.url }, timeoutMs: 170_000 });
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  const report = JSON.parse(run.stdout);
  assert.equal(report.ok, true);
  assert.deepEqual(report.guarantees.filter((g: { held: boolean }) => !g.held), []);
  assert.deepEqual(report.problems, []);
  assert.equal(report.domain, domain);
  assert.equal(report.stream, stream);
  assert.equal(report.workers, 2);

  // The run's commands, straight from the database (the domain is this test's alone).
  const { rows } = await sql<{ key: string; id: string; status: string; attempts: number }>`
    SELECT idempotency_key AS key, id, status, attempts FROM herald_commands WHERE domain = ${domain}`.execute(database.db);
  assert.ok(rows.every((r) => r.key.startsWith(report.keyPrefix)), "every key belongs to the run");
  const committed = rows.filter((r) => r.status === "committed");
  assert.equal(report.committed.total, committed.length);
  assert.equal(report.committed.accountsOpened, report.accounts.length);
  assert.equal(report.committed.transfers, committed.length - report.accounts.length);
  assert.equal(report.rejected.total, rows.filter((r) => r.status === "rejected").length);
  assert.equal(report.serializationRetries, rows.reduce((sum, r) => sum + Number(r.attempts) - 1, 0));

  // The workload's shape: duplicates replayed, one key reuse refused, must-rejects and invalid requests refused.
  assert.ok(report.duplicates.sent >= 15, `about 10% re-sent: ${report.duplicates.sent}`);
  assert.equal(report.duplicates.replayed, report.duplicates.sent);
  assert.deepEqual(report.keyReuse, { sent: 1, conflicts: 1 });
  assert.equal(report.rejected.asExpected, report.rejected.mustReject);
  assert.ok(report.rejected.byCode.insufficient_funds >= 3 && report.rejected.byCode.account_not_found >= 3, JSON.stringify(report.rejected));
  assert.deepEqual(report.invalid.byCode, { invalid_command: 4, invalid_json: 1, unknown_command: 1 });
  assert.equal(report.invalid.byClient, 1);
  assert.equal(report.sent, report.accounts.length + 200 + report.duplicates.sent + report.keyReuse.sent + report.invalid.byWorker);

  // The stream holds exactly one event per committed command of the run.
  const messages = await readStream(nc, stream);
  assert.equal(report.events.inStream, committed.length);
  assert.equal(report.events.committedCommands, committed.length);
  assert.equal(messages.length, committed.length);
  assert.deepEqual(new Set(messages.map((m) => m.headers["ce-commandid"])), new Set(committed.map((r) => r.id)));

  // Money is conserved among the run's accounts.
  const balances = await database.db.selectFrom("bank_accounts").select(["id", "balance"]).where("id", "in", report.accounts).execute();
  assert.equal(balances.reduce((sum: number, b: { balance: number }) => sum + Number(b.balance), 0), report.balances.before);
  assert.ok(balances.every((b: { balance: number }) => b.balance >= 0));
  assert.deepEqual(Object.fromEntries(balances.map((b: { id: string; balance: number }) => [b.id, Number(b.balance)])), report.balances.byAccount);

  // Progress went to stderr as plain lines (not a terminal), and the workers were stopped.
  assert.match(run.stderr, /herald demo: \d+\/\d+ requests/);
  assert.doesNotMatch(run.stderr, /\x1b\[2K|\r/);
  assert.match(run.stderr, /stopping the workers/);
  await waitFor(
    async () => Number((await sql<{ n: number }>`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'herald-bank'`.execute(database.db)).rows[0]!.n) === 0,
    { what: "the workers' connections to close" },
  );
});

test("herald demo: the readable summary, and one line for bad flags or an unreachable database", async () => {
  const text = await runCli(["demo", "--domain", domain, "--transfers", "20", "--concurrency", "8"], { env: { DATABASE_URL: database.url }, timeoutMs: 120_000 });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^Herald demo: domain \S+, run [0-9a-f]{8}, 2 workers, 20 transfers at concurrency 8/);
  for (const label of ["requests sent", "committed", "rejected", "replayed duplicates", "refused as invalid", "key-reuse conflicts", "serialization retries", "events in stream", "money"]) {
    assert.match(text.stdout, new RegExp(`^  ${label} `, "m"));
  }
  assert.match(text.stdout.trimEnd(), /Every guarantee held\.$/, "a rerun on the same domain and database works too");

  const badFlag = await runCli(["demo", "--transfers", "lots"]);
  assert.equal(badFlag.code, 1);
  assert.match(badFlag.stderr, /^herald demo: --transfers must be a whole number/);
  assert.equal(badFlag.stderr.trim().split("\n").length, 1);

  const port = await freePort();
  const noDb = await runCli(["demo", "--domain", domain], { env: { DATABASE_URL: `postgresql://postgres@127.0.0.1:${port}/x` } });
  assert.equal(noDb.code, 1);
  assert.match(noDb.stderr, /^herald demo: .*ECONNREFUSED/m);
  assert.doesNotMatch(noDb.stderr, /\n\s+at /);
});
