/**
 * What `awaitConsumers` costs: the latency of `send` for one deposit at a time,
 * without a wait and with a wait for one read model (a `consume()` with a
 * database that upserts the balance), alternating so both see the same machine.
 * Worker, consumer and client share this process and the local PostgreSQL and NATS.
 *   node --import tsx bench/await-consumers.ts [--sends N]
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { jetstreamManager } from "@nats-io/jetstream";
import { sql } from "kysely";
import { bankApp, deposit, openAccount } from "../examples/bank/index.js";
import { createClient } from "../src/client/client.js";
import { loadConfig } from "../src/config.js";
import { consume } from "../src/consumer/index.js";
import { connectDatabase } from "../src/db/connection.js";
import { migrateApp } from "../src/db/migrate-app.js";
import { connectNats } from "../src/messaging/connection.js";
import { startWorker } from "../src/worker/worker.js";
import { createBenchDatabase } from "./bench-database.js";

const { values } = parseArgs({ options: { sends: { type: "string", default: "300" } } });
const sends = Number(values.sends);
const config = loadConfig();
const bench = await createBenchDatabase(config.DATABASE_URL);
const database = await connectDatabase({ url: bench.url, poolMax: 10, applicationName: "herald-bench-await" });
const nc = await connectNats({ servers: config.NATS_URL, name: "herald-bench-await" });
const domain = `bw${randomBytes(4).toString("hex")}`;
try {
  await migrateApp(database.db, bankApp);
  await sql`CREATE TABLE bench_balances (account_id TEXT PRIMARY KEY, balance BIGINT NOT NULL)`.execute(database.db);
  const worker = await startWorker({ app: bankApp, nc, db: database.db, domain });
  const view = await consume({
    nc,
    db: database.db,
    domain,
    durable: "balances",
    async handle(event, { tx }) {
      const data = event.data as { accountId: string; balance?: number; initialBalance?: number };
      await sql`INSERT INTO bench_balances (account_id, balance) VALUES (${data.accountId}, ${data.balance ?? data.initialBalance ?? 0})
                ON CONFLICT (account_id) DO UPDATE SET balance = excluded.balance`.execute(tx);
    },
  });
  const client = createClient(nc, { domain });
  const accounts = 20;
  for (let i = 0; i < accounts; i++) await client.send(openAccount, { accountId: `a${i}`, owner: "bench" }, { awaitConsumers: ["balances"] });
  const plain: number[] = [];
  const awaited: number[] = [];
  let lagged = 0;
  // Warm-up, then alternate the two kinds of send.
  for (let i = 0; i < 20; i++) await client.send(deposit, { accountId: `a${i % accounts}`, amount: 1 }, { awaitConsumers: ["balances"] });
  for (let i = 0; i < sends * 2; i++) {
    const wait = i % 2 === 1;
    const started = performance.now();
    const reply = await client.send(deposit, { accountId: `a${i % accounts}`, amount: 1 }, wait ? { awaitConsumers: ["balances"], awaitTimeoutMs: 5000 } : {});
    (wait ? awaited : plain).push(performance.now() - started);
    if (reply.status === "committed" && reply.notYetAppliedBy?.length) lagged++;
  }
  const pct = (list: number[], p: number) => [...list].sort((a, b) => a - b)[Math.min(list.length - 1, Math.floor((p / 100) * list.length))]!.toFixed(1);
  const line = (name: string, list: number[]) => `${name.padEnd(28)} p50 ${pct(list, 50)} ms  p90 ${pct(list, 90)} ms  p99 ${pct(list, 99)} ms`;
  process.stdout.write(`${sends} sends each, one at a time, ${bench.version}\n`);
  process.stdout.write(`${line("send", plain)}\n${line("send + awaitConsumers (1)", awaited)}\n`);
  process.stdout.write(`not applied within 5 s: ${lagged}\n`);
  await view.stop();
  await worker.stop();
} finally {
  await (await jetstreamManager(nc)).streams.delete(`${domain.toUpperCase()}_EVENTS`).catch(() => undefined);
  await nc.close();
  await database.destroy();
  await bench.drop();
}
