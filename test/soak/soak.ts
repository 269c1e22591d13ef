/**
 * The long soak (run by hand, not in CI): two bank workers with their outbox
 * relays and a transactional consumer, first loaded to their peak briefly
 * (bench/load-generator.ts), then held at 50% of it for `--minutes` (default
 * 30), sampled every 10 s. Writes docs/soak.svg and the soak section of
 * docs/reliability.md from the run; exits 1 when a check fails.
 *
 *   npm run test:soak -- --minutes 3
 */
import { arch, cpus, platform } from "node:os";
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { randomBytes, randomUUID } from "node:crypto";
import { headers } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { bankApp } from "../../examples/bank/index.js";
import { createBenchDatabase, prepareSchema, SEEDED_ACCOUNTS } from "../../bench/bench-database.js";
import { jsonLine, spawnChild, type Child } from "../../bench/child.js";
import { LatencyRecorder } from "../../bench/latency.js";
import { processMemoryMb } from "../../bench/proc-stats.js";
import { benchServers, isLoopback, MAX_AMOUNT } from "../../bench/settings.js";
import { connectDatabase } from "../../src/db/connection.js";
import { migrateApp } from "../../src/db/migrate-app.js";
import { openStreamManager } from "../../src/messaging/stream.js";
import { judge, renderSoakChart, renderSoakMarkdown, writeBetweenMarkers, type SoakSample } from "./soak-report.js";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "30" },
    "peak-seconds": { type: "string", default: "15" },
    "peak-clients": { type: "string", default: "32" },
    "max-slope": { type: "string", default: "0.5" },
    "no-write": { type: "boolean", default: false },
  },
  strict: true,
});
const minutes = Number(values.minutes);
const peakSeconds = Number(values["peak-seconds"]);
const maxSlope = Number(values["max-slope"]);
if (!(minutes >= 2) || !(peakSeconds >= 5) || !(maxSlope > 0)) {
  process.stderr.write("soak: --minutes must be at least 2, --peak-seconds at least 5, --max-slope positive\n");
  process.exit(2);
}
const SAMPLE_MS = 10_000;
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const log = (line: string) => process.stderr.write(`soak: ${line}\n`);

const { databaseUrl, natsUrl } = benchServers();
if (!isLoopback(natsUrl)) throw new Error("the soak only sends to servers on this machine");
const domain = `soak_${randomBytes(4).toString("hex")}`;
const db = await createBenchDatabase(databaseUrl);
const children: Child[] = [];
let exitCode = 1;
try {
  const setup = await connectDatabase({ url: db.url, poolMax: 2 });
  await migrateApp(setup.db, bankApp);
  await setup.destroy();
  await prepareSchema(db);

  const env = { ...process.env, LOG_LEVEL: "warn" };
  const latest = new Map<string, any>();
  const start = (role: "worker" | "consumer", name: string) => {
    const child = spawnChild(["--import", "tsx", here("./soak-child.ts"), role, db.url, natsUrl, domain], env);
    child.process.stdout!.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) {
        const stats = jsonLine<any>("stats")(line);
        if (stats) latest.set(name, stats);
      }
    });
    children.push(child);
    return child.waitForLine(jsonLine("ready"), 60_000, `${name} ready`).then(() => ({ name, child }));
  };
  const procs = [await start("worker", "worker1"), await start("worker", "worker2")];
  procs.push(await start("consumer", "consumer"));
  log(`two workers and a consumer up for domain ${domain}`);

  // Peak, briefly, with the bench's closed-loop generator.
  const gen = spawnChild(
    ["--import", "tsx", fileURLToPath(new URL("../../bench/load-generator.ts", import.meta.url)),
      "--subject", `${domain}.cmd.transfer`, "--clients", values["peak-clients"]!, "--duration", String(peakSeconds), "--warmup", "3", "--accounts", String(SEEDED_ACCOUNTS)],
    { ...process.env, NATS_URL: natsUrl },
  );
  const peak = await gen.waitForLine(jsonLine<{ window: { committedPerSec: number } }>("result"), (peakSeconds + 60) * 1000, "the peak measurement");
  const peakPerSec = peak.window.committedPerSec;
  const rate = Math.max(1, Math.round(peakPerSec / 2));
  log(`peak ${peakPerSec} commits/s; holding ${rate} requests/s for ${minutes} min`);

  // The hold: open-loop, paced sending of fresh transfers.
  const nc = await connect({ servers: natsUrl.split(","), name: "herald-soak-load" });
  const encoder = new TextEncoder();
  const account = (n: number) => `acct-${String(n).padStart(5, "0")}`;
  let window = { latency: new LatencyRecorder(), sent: 0, committed: 0, errors: 0 };
  const minuteLatency: LatencyRecorder[] = [];
  let outstanding = 0;
  const send = async (elapsedS: number) => {
    const from = Math.floor(Math.random() * SEEDED_ACCOUNTS);
    const to = (from + 1 + Math.floor(Math.random() * (SEEDED_ACCOUNTS - 1))) % SEEDED_ACCOUNTS;
    const h = headers();
    h.set("Idempotency-Key", randomUUID());
    const w = window;
    w.sent++;
    outstanding++;
    const sent = performance.now();
    try {
      const msg = await nc.request(`${domain}.cmd.transfer`, encoder.encode(JSON.stringify({ from: account(from), to: account(to), amount: 1 + Math.floor(Math.random() * MAX_AMOUNT) })), { headers: h, timeout: 15_000 });
      const ms = performance.now() - sent;
      if (msg.json<{ status: string }>().status === "committed") {
        w.committed++;
        w.latency.add(ms);
        (minuteLatency[Math.floor(elapsedS / 60)] ??= new LatencyRecorder()).add(ms);
      } else w.errors++;
    } catch {
      w.errors++;
    } finally {
      outstanding--;
    }
  };
  const samples: SoakSample[] = [];
  const backlog = async () => Number((await db.pool.query("SELECT count(*)::INT AS n FROM herald_outbox WHERE published_at IS NULL")).rows[0].n);
  const holdStart = performance.now();
  const holdEnd = holdStart + minutes * 60_000;
  let nextSample = holdStart + SAMPLE_MS;
  let due = 0;
  let last = holdStart;
  const inflight = new Set<Promise<void>>();
  while (performance.now() < holdEnd) {
    await new Promise((r) => setTimeout(r, 10));
    const now = performance.now();
    due += ((now - last) / 1000) * rate;
    last = now;
    // A stuck target must not grow the sender without bound: beyond this the requests count as errors.
    for (; due >= 1; due--) {
      if (outstanding > rate * 20) {
        window.errors++;
        continue;
      }
      const p = send((now - holdStart) / 1000);
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    if (now >= nextSample) {
      const w = window;
      window = { latency: new LatencyRecorder(), sent: 0, committed: 0, errors: 0 };
      const rssMb: Record<string, number> = {};
      for (const p of procs) rssMb[p.name] = processMemoryMb(p.child.pid)?.rssMb ?? latest.get(p.name)?.rssMb ?? 0;
      const stats = procs.map((p) => latest.get(p.name));
      const sample: SoakSample = {
        t: Math.round((now - holdStart) / 1000),
        sentPerSec: Math.round((w.sent / (SAMPLE_MS / 1000)) * 10) / 10,
        committedPerSec: Math.round((w.committed / (SAMPLE_MS / 1000)) * 10) / 10,
        p99Ms: w.latency.summary().p99,
        rssMb,
        eventLoopP99Ms: Math.max(0, ...stats.map((s) => s?.eventLoopP99Ms ?? 0)),
        poolInUse: stats.reduce((n, s) => n + (s?.pool?.inUse ?? 0), 0),
        outboxBacklog: await backlog(),
        errors: w.errors,
      };
      samples.push(sample);
      log(JSON.stringify(sample));
      nextSample += SAMPLE_MS;
    }
  }
  await Promise.allSettled([...inflight]);
  await nc.close();

  // At rest: every slot given back, the outbox drained.
  const restDeadline = Date.now() + 60_000;
  let rest = { poolInUse: -1, waiting: -1, inFlight: -1, backlog: -1 };
  for (;;) {
    await new Promise((r) => setTimeout(r, 2500));
    const stats = procs.map((p) => latest.get(p.name));
    rest = {
      poolInUse: stats.reduce((n, s) => n + (s?.pool?.inUse ?? 0), 0),
      waiting: stats.reduce((n, s) => n + (s?.pool?.waiting ?? 0), 0),
      inFlight: stats.reduce((n, s) => n + (s?.inFlight ?? 0), 0),
      backlog: await backlog(),
    };
    if (rest.poolInUse + rest.waiting + rest.inFlight + rest.backlog === 0 || Date.now() > restDeadline) break;
  }
  const minuteP99 = minuteLatency.map((r) => r?.summary().p99 ?? null);
  const verdict = judge(samples, minuteP99[0] ?? null, minuteP99.slice(1, minutes), rest, maxSlope);
  for (const c of verdict.checks) log(`${c.pass ? "pass" : "FAIL"}: ${c.name}: ${c.detail}`);
  if (!values["no-write"]) {
    const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? "cpu"} (${platform()}/${arch()}), ${db.version}`;
    const run = { date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC", minutes, peakPerSec, ratePerSec: rate, machine };
    await writeFile(here("../../docs/soak.svg"), renderSoakChart(samples));
    await writeBetweenMarkers(here("../../docs/reliability.md"), renderSoakMarkdown(run, samples, verdict));
    log("wrote docs/soak.svg and the soak section of docs/reliability.md");
  }
  exitCode = verdict.pass ? 0 : 1;
} finally {
  await Promise.allSettled(children.map((c) => c.stop(20_000)));
  const nc = await connect({ servers: natsUrl.split(",") }).catch(() => undefined);
  if (nc) {
    await openStreamManager(nc).then((jsm) => jsm.streams.delete(`${domain.toUpperCase()}_EVENTS`)).catch(() => undefined);
    await nc.close();
  }
  await db.drop();
}
process.exit(exitCode);
