import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { sql } from "kysely";
import { bankApp } from "../../examples/bank/index.js";
import { loadConfig } from "../../src/config.js";
import { connectDatabase, type Database } from "../../src/db/connection.js";
import { migrateApp } from "../../src/db/migrate-app.js";
import { findSqlState } from "../../src/db/sqlstate.js";
import { startWorker, type Worker } from "../../src/worker/worker.js";
import { runCli } from "../kit/cli.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { uniqueDomain, uniqueKey } from "../kit/names.js";
import { connectSharedNats } from "../kit/nats-server.js";

// `herald grants` applied on the real server: the worker works under the role
// and is refused everything else (SQLSTATE 42501, insufficient_privilege).
const domain = uniqueDomain("grt");
const other = uniqueDomain("oth");
const role = `herald_${domain}_worker`;
let dir: string;
let database: TestDatabase<any>;
let asRole: Database<any> | undefined;
let nc: NatsConnection;
let worker: Worker | undefined;

function roleUrl(): string {
  const url = new URL(database.url);
  url.username = role;
  url.password = "";
  return url.toString();
}

async function grantsSqlFor(args: string[] = []): Promise<string> {
  const result = await runCli(["grants", "--domain", domain, "--dialect", "postgresql", ...args]);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "herald-grants-"));
  database = await createTestDatabase();
  await migrateApp(database.db, bankApp);
  // Another domain's table in the same database.
  await sql`CREATE TABLE ${sql.id(`${other}_ledger`)} (id TEXT PRIMARY KEY, amount BIGINT NOT NULL)`.execute(database.db);
  nc = await connectSharedNats();
});

after(async () => {
  await worker?.stop().catch(() => undefined);
  await asRole?.destroy().catch(() => undefined);
  await jetstreamManager(nc).then((jsm) => jsm.streams.delete(`${domain.toUpperCase()}_EVENTS`)).catch(() => undefined);
  await nc.close();
  await database.drop();
  // Roles belong to the whole server: remove it once its database is gone.
  const admin = await connectDatabase({ url: loadConfig().DATABASE_URL, poolMax: 1 });
  await sql`DROP ROLE IF EXISTS ${sql.id(role)}`.execute(admin.db).finally(() => admin.destroy());
  await rm(dir, { recursive: true, force: true });
});

test("the generated SQL names Herald's shared tables and the app's, and nothing else", async () => {
  const text = await grantsSqlFor();
  assert.match(text, /shared by every domain/);
  assert.match(text, /GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "herald_commands", "herald_outbox", "herald_inbox", "herald_dead_letters", "herald_consumer_positions", "herald_reactor_rejections" TO "herald_grt\w+_worker";/);
  assert.match(text, /GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "bank_accounts", "bank_reservations" TO /);
  assert.doesNotMatch(text, /herald_migration|_ledger|CREATE ON|ALL PRIVILEGES|GRANT ALL/);
  const cockroach = await runCli(["grants", "--domain", domain]);
  assert.match(cockroach.stdout, new RegExp(`CREATE ROLE IF NOT EXISTS "${role}" WITH LOGIN;`));
  assert.match(cockroach.stdout, /\(cockroachdb\)/);
});

test("a worker runs under the generated role, and cannot touch other domains' tables or the schema", async () => {
  // Twice: re-running the script is safe and leaves the same grants.
  await sql.raw(await grantsSqlFor()).execute(database.db);
  await sql.raw(await grantsSqlFor()).execute(database.db);

  // The password file is read for each new connection (the local server may trust 127.0.0.1 anyway).
  const passwordFile = join(dir, "password");
  await writeFile(passwordFile, "not-used-by-trust-auth\n");
  asRole = await connectDatabase({ url: roleUrl(), passwordFile, poolMax: 5 });
  const { rows } = await sql<{ user: string }>`SELECT current_user AS "user"`.execute(asRole.db);
  assert.equal(rows[0]!.user, role);

  worker = await startWorker({ app: bankApp, nc, db: asRole.db, domain, outbox: { intervalMs: 100, graceMs: 500 } });
  const send = async (command: string, body: unknown) => {
    const h = headers();
    h.set("Idempotency-Key", uniqueKey());
    return (await nc.request(`${domain}.cmd.${command}`, JSON.stringify(body), { headers: h, timeout: 10_000 })).json<any>();
  };
  assert.equal((await send("open_account", { accountId: "a", owner: "A", initialBalance: 100 })).status, "committed");
  assert.equal((await send("open_account", { accountId: "b", owner: "B" })).status, "committed");
  assert.equal((await send("transfer", { from: "a", to: "b", amount: 40 })).status, "committed");
  assert.equal((await send("transfer", { from: "b", to: "a", amount: 1000 })).status, "rejected");
  const balances = await database.db.selectFrom("bank_accounts").select(["id", "balance"]).orderBy("id").execute();
  assert.deepEqual(balances, [{ id: "a", balance: 60 }, { id: "b", balance: 40 }]);

  const refused = async (statement: string) => {
    const err = await sql.raw(statement).execute(asRole!.db).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.equal(findSqlState(err), "42501", `${statement} must be refused, got ${String(err)}`);
  };
  await refused(`INSERT INTO "${other}_ledger" (id, amount) VALUES ('x', 1)`);
  await refused(`SELECT * FROM "${other}_ledger"`);
  await refused(`UPDATE "${other}_ledger" SET amount = 2`);
  await refused(`DROP TABLE bank_accounts`);
  await refused(`ALTER TABLE herald_commands ADD COLUMN x INT`);
  await refused(`CREATE TABLE sneaky (x INT)`);
  await refused(`SELECT * FROM herald_migration`);
  await refused(`TRUNCATE herald_outbox`);
});

test("role and domain arguments are validated before any SQL is written", async () => {
  for (const args of [
    ["--domain", "x; DROP TABLE bank_accounts; --"],
    ["--domain", domain, "--role", 'r"; DROP ROLE postgres; --'],
    ["--domain", domain, "--role", "Robert'); DROP TABLE x;--"],
    ["--domain", domain, "--dialect", "mysql"],
  ]) {
    const result = await runCli(["grants", ...args]);
    assert.equal(result.code, 1, `${args.join(" ")} must be refused`);
    assert.equal(result.stdout, "", "no SQL printed");
    assert.match(result.stderr, /^herald grants: (domain|role|--dialect) .*must/);
  }
});
