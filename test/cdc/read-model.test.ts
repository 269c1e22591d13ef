import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { sql } from "kysely";
import { bankApp } from "../../examples/bank/index.js";
import { readModelMigrations, startBalancesView } from "../../examples/bank-read-model/index.js";
import { createCdcBridge, type CdcBridge } from "../../src/cdc/bridge.js";
import { cdcWildcard } from "../../src/cdc/change-message.js";
import { createPostgresSource } from "../../src/cdc/postgres-source.js";
import { connectDatabase, type Database } from "../../src/db/connection.js";
import { migrateApp } from "../../src/db/migrate-app.js";
import { connectNats } from "../../src/messaging/connection.js";
import { ensureStream } from "../../src/messaging/stream.js";
import { loadConfig } from "../../src/config.js";
import { uniqueDomain } from "../kit/names.js";
import type { PrivatePostgres } from "../kit/postgres-server.js";
import { streamCount } from "../kit/stream.js";
import { waitFor } from "../kit/wait.js";
import { createCdcDatabase, startLogicalPostgres } from "./postgres-fixture.js";
import { createStreamPublisher } from "../../src/messaging/stream-publisher.js";

// A write-first service changes bank_accounts with plain SQL; the bridge streams
// the changes and an unchanged consume() keeps a read model, exactly once.
let server: PrivatePostgres;
let database: Database<any>;
let nc: NatsConnection;
let bridge: CdcBridge;
const domain = uniqueDomain("rm");
const stream = `${domain.toUpperCase()}_CDC`;
const cleanups: Array<() => Promise<unknown>> = [];

before(async () => {
  server = await startLogicalPostgres();
  const db = await createCdcDatabase(server, []);
  cleanups.push(() => db.drop());
  database = await connectDatabase<any>({ url: db.url, poolMax: 4 });
  cleanups.push(() => database.destroy());
  await migrateApp(database.db, bankApp);
  await sql.raw(await readFile(join(readModelMigrations, "0001_bank_balances_view.sql"), "utf8")).execute(database.db);
  nc = await connectNats({ servers: loadConfig().NATS_URL });
  cleanups.push(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, { name: stream, subjects: [cdcWildcard(domain)] });
  cleanups.push(() => jsm.streams.delete(stream));
  bridge = createCdcBridge({ publisher: createStreamPublisher(nc), domain, source: createPostgresSource({ url: db.url, ...db.names, tables: ["bank_accounts"] }) });
  await bridge.start();
  cleanups.push(() => bridge.stop());
});
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await server?.dispose();
});

const view = async () =>
  (await sql<{ account_id: string; owner: string; balance: string }>`SELECT account_id, owner, balance::text AS balance FROM bank_balances_view ORDER BY account_id`.execute(database.db)).rows.map(
    (r) => `${r.account_id}:${r.owner}:${r.balance}`,
  );
const table = async () =>
  (await sql<{ id: string; owner: string; balance: string }>`SELECT id, owner, balance::text AS balance FROM bank_accounts ORDER BY id`.execute(database.db)).rows.map((r) => `${r.id}:${r.owner}:${r.balance}`);

test("consume() and the inbox keep a read model of bank_accounts from CDC messages, exactly once", async () => {
  const exec = (text: string) => sql.raw(text).execute(database.db);
  await exec("INSERT INTO bank_accounts (id, owner, balance) VALUES ('a1', 'Ann', 100), ('a2', 'Bob', 5), ('a3', 'Cy', 0)");
  await exec("UPDATE bank_accounts SET balance = balance + 50 WHERE id = 'a1'");
  await exec("BEGIN; UPDATE bank_accounts SET balance = 0 WHERE id = 'a2'; DELETE FROM bank_accounts WHERE id = 'a3'; COMMIT");
  await exec("BEGIN; UPDATE bank_accounts SET balance = 999999 WHERE id = 'a1'; ROLLBACK");
  await waitFor(async () => (await streamCount(nc, stream)) >= 6, { what: "6 changes in the stream" });

  const first = await startBalancesView({ nc, db: database.db, domain, stream, durable: "view" });
  await waitFor(async () => first.stats.processed >= 6, { what: "the changes applied" });
  assert.deepEqual(await view(), await table());
  assert.deepEqual(await view(), ["a1:Ann:150", "a2:Bob:0"]);
  await first.stop();

  // The same durable made again from scratch gets every message again: the inbox drops them all.
  await (await jetstreamManager(nc)).consumers.delete(stream, "view");
  const again = await startBalancesView({ nc, db: database.db, domain, stream, durable: "view" });
  cleanups.push(() => again.stop());
  await waitFor(async () => again.stats.duplicates >= 6, { what: "redelivered changes recognised by the inbox" });
  assert.equal(again.stats.processed, 0, "no change applied twice");
  assert.deepEqual(await view(), ["a1:Ann:150", "a2:Bob:0"]);

  // And it keeps up with new writes.
  await exec("UPDATE bank_accounts SET owner = 'Bobby' WHERE id = 'a2'");
  await waitFor(async () => ((await view()).includes("a2:Bobby:0") ? true : undefined), { what: "the new change in the view" });

  // A TRUNCATE (with the reservations that reference the accounts) empties the view at its point of the stream: rows written before it go, rows after it stay.
  await exec("INSERT INTO bank_accounts (id, owner, balance) VALUES ('a5', 'Eve', 9007199254740993)");
  await exec("BEGIN; TRUNCATE bank_accounts, bank_reservations; INSERT INTO bank_accounts (id, owner, balance) VALUES ('a4', 'Dee', 7); COMMIT");
  await waitFor(async () => ((await view()).join() === "a4:Dee:7" ? true : undefined), { what: "the view emptied by the truncate, then a4" });
  assert.deepEqual(await view(), await table());
});
