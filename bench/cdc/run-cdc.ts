/**
 * CDC benchmark: PostgreSQL logical replication -> bridge -> JetStream, on a
 * private PostgreSQL with wal_level = logical and the bench's NATS.
 *   throughput: a committed backlog drained from the slot into the stream, changes/s
 *   lag: a fixed rate (5,000 changes/s), arrival minus commit time, p50/p99
 * Throughput counts the bridge's PubAcks, with nothing else in the process
 * reading the stream; lag is measured on a core NATS subscription to the
 * subjects, which sees each message as JetStream stores it (just before its PubAck).
 * Standalone: `node --import tsx bench/cdc/run-cdc.ts [--quick]`.
 */
import { randomBytes } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import pg from "pg";
import { createCdcBridge } from "../../src/cdc/bridge.js";
import { cdcWildcard } from "../../src/cdc/change-message.js";
import { ensurePostgresCdc } from "../../src/cdc/postgres-setup.js";
import { createPostgresSource } from "../../src/cdc/postgres-source.js";
import { connectNats } from "../../src/messaging/connection.js";
import { ensureStream } from "../../src/messaging/stream.js";
import { startPostgresServer } from "../../test/kit/postgres-server.js";
import { createStreamPublisher } from "../../src/messaging/stream-publisher.js";

export interface CdcBenchResult {
  throughput: { changes: number; seconds: number; changesPerS: number };
  lag: { ratePerS: number; changes: number; p50Ms: number; p99Ms: number; maxMs: number };
}

async function retry<T>(fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if ((err as { code?: string }).code !== "40001") throw err;
    }
  }
}

/** Polls `done` every 5 ms; throws once `ms` pass without it. */
async function until(done: () => boolean, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`cdc bench: ${what} did not happen within ${ms / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

export async function runCdcBench(options: { quick: boolean; natsUrl: string; log: (line: string) => void }): Promise<CdcBenchResult> {
  const server = await startPostgresServer({ settings: { wal_level: "logical", max_replication_slots: 4, max_wal_senders: 4 } });
  // Herald's own connection, as `herald cdc start` makes it (without async traces, each PubAck wait would capture a stack).
  const nc: NatsConnection = await connectNats({ servers: options.natsUrl, name: "herald-bench-cdc" });
  const domain = `bcdc${randomBytes(4).toString("hex")}`;
  const stream = `${domain.toUpperCase()}_CDC`;
  const jsm = await jetstreamManager(nc);
  const db = new pg.Pool({ connectionString: server.url, max: 8 });
  try {
    await ensureStream(jsm, { name: stream, subjects: [cdcWildcard(domain)] });
    await db.query("CREATE TABLE bench_rows (id text PRIMARY KEY, value int NOT NULL)");
    const names = { slot: "bench", publication: "bench", tables: ["bench_rows"] };
    // The slot first, so the backlog written before the bridge starts is captured.
    await ensurePostgresCdc({ url: server.url }, names);
    const source = createPostgresSource({ url: server.url, ...names });
    const bridge = createCdcBridge({ publisher: createStreamPublisher(nc), source, domain });

    // Throughput: a backlog of transactions of 100 inserts each, committed before the bridge starts, then drained:
    // the rate of the CDC path itself (decode, publish, PubAck), apart from how fast this machine's writers commit.
    const total = options.quick ? 20_000 : 100_000;
    const perTx = 100;
    const started = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < total) {
          const from = next;
          next += perTx;
          for (;;) {
            try {
              await db.query("INSERT INTO bench_rows (id, value) SELECT 'r' || g, g FROM generate_series($1::int, $2::int) g", [from, from + perTx - 1]);
              break;
            } catch (err) {
              // SERIALIZABLE (the private server's default) may refuse concurrent inserts; run it again.
              if ((err as { code?: string }).code !== "40001") throw err;
            }
          }
        }
      }),
    );
    const writtenS = (Date.now() - started) / 1000;
    const drainStarted = Date.now();
    await bridge.start();
    await until(() => bridge.stats().published >= total, `${total} PubAcks`, 300_000);
    const seconds = (Date.now() - drainStarted) / 1000;
    const stored = (await jsm.streams.info(stream)).state.messages;
    if (stored !== total) throw new Error(`the stream holds ${stored} changes after the drain, not ${total}`);
    const throughput = { changes: total, seconds, changesPerS: Math.round(total / seconds) };
    options.log(`cdc throughput: ${total} changes in ${seconds.toFixed(2)} s = ${throughput.changesPerS} changes/s (backlog drained from the slot into the stream; writing it took ${writtenS.toFixed(2)} s)`);

    // Lag at a fixed rate: 50 updates per transaction every 10 ms = 5,000 changes/s.
    const perTick = 50;
    let arrived = 0;
    const lags: number[] = [];
    const sub = nc.subscribe(`${domain}.cdc.>`, {
      callback: (_err, msg) => {
        arrived++;
        lags.push(Date.now() - Date.parse(msg.headers?.get("ce-time") ?? ""));
      },
    });
    await nc.flush();
    const durationMs = options.quick ? 3000 : 15_000;
    const end = Date.now() + durationMs;
    let tick = 0;
    const writes: Promise<unknown>[] = [];
    for (let at = Date.now(); at < end; at += 10) {
      const from = (tick++ * perTick) % (total - perTick);
      writes.push(retry(() => db.query("UPDATE bench_rows SET value = value + 1 WHERE id IN (SELECT 'r' || g FROM generate_series($1::int, $2::int) g)", [from, from + perTick - 1])));
      const wait = at + 10 - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    await Promise.all(writes);
    const want = tick * perTick;
    await until(() => arrived >= want, `${want} changes arriving`, 120_000);
    const sorted = [...lags].sort((a, b) => a - b);
    const lag = { ratePerS: Math.round((tick * perTick) / (durationMs / 1000)), changes: sorted.length, p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99), maxMs: sorted.at(-1) ?? 0 };
    options.log(`cdc lag at ${lag.ratePerS} changes/s: p50 ${lag.p50Ms} ms, p99 ${lag.p99Ms} ms, max ${lag.maxMs} ms (${lag.changes} changes; read at the arrival's ms precision)`);
    sub.unsubscribe();
    await bridge.stop();
    return { throughput, lag };
  } finally {
    await db.end().catch(() => undefined);
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
    await server.dispose();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await runCdcBench({ quick: process.argv.includes("--quick"), natsUrl: process.env.NATS_URL ?? "nats://127.0.0.1:4222", log: (l) => console.log(l) });
  console.log(JSON.stringify(result));
}
