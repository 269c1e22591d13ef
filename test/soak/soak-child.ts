/**
 * One process of the soak: a bank worker (with its outbox relay) or a
 * transactional consumer. Prints a JSON `stats` line every 2 s (RSS,
 * event-loop delay since the last line, pool usage, commands in flight) and a
 * last one after a graceful stop on SIGTERM.
 *
 *   node --import tsx test/soak/soak-child.ts worker|consumer <databaseUrl> <natsUrl> <domain>
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { bankApp } from "../../examples/bank/index.js";
import { consume } from "../../src/consumer/index.js";
import { connectDatabase, poolUsage } from "../../src/db/connection.js";
import { connectNats } from "../../src/messaging/connection.js";
import { startWorker } from "../../src/worker/worker.js";

const [role, databaseUrl, natsUrl, domain] = process.argv.slice(2);
if ((role !== "worker" && role !== "consumer") || !databaseUrl || !natsUrl || !domain) {
  process.stderr.write("usage: soak-child.ts worker|consumer <databaseUrl> <natsUrl> <domain>\n");
  process.exit(2);
}

const database = await connectDatabase({ url: databaseUrl, poolMax: 10, applicationName: `herald-soak-${role}` });
const nc = await connectNats({ servers: natsUrl, name: `herald-soak-${role}` });
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();

let inFlight = () => 0;
let stop: () => Promise<void>;
if (role === "worker") {
  const worker = await startWorker({ app: bankApp, nc, db: database.db, domain, outbox: { intervalMs: 200, graceMs: 2000 } });
  inFlight = () => worker.service.inFlight();
  stop = () => worker.stop();
} else {
  const consumer = await consume({ nc, db: database.db, domain, durable: "soak_reader", handle: () => undefined });
  stop = () => consumer.stop();
}

const report = () => {
  const line = {
    type: "stats",
    role,
    rssMb: Math.round((process.memoryUsage().rss / 1048576) * 10) / 10,
    eventLoopP99Ms: Math.round((delay.percentile(99) / 1e6) * 100) / 100,
    eventLoopMaxMs: Math.round((delay.max / 1e6) * 100) / 100,
    pool: poolUsage(database.pool),
    inFlight: inFlight(),
  };
  delay.reset();
  process.stdout.write(`${JSON.stringify(line)}\n`);
};
const timer = setInterval(report, 2000);
process.stdout.write(`${JSON.stringify({ type: "ready", role })}\n`);

process.once("SIGTERM", () => {
  clearInterval(timer);
  void (async () => {
    await stop();
    report();
    await nc.drain().catch(() => undefined);
    await database.destroy();
    process.exit(0);
  })();
});
