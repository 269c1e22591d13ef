/**
 * The benchmark of Herald against a bare NATS ceiling and hand-written glue.
 *   npm run bench            full suite (< 10 min on 2 cores)
 *   npm run bench -- --quick C in {1, 64}, under a minute
 * See bench/options.ts for flags. Creates a fresh database and drops it, deletes
 * every stream it made, stops every process it started, also on Ctrl-C.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { childEnvironment } from "../src/config.js";
import type { BenchDatabase } from "./bench-database.js";
import { spawnChild } from "./child.js";
import { cleanupAll, installSignalCleanup, isStopping, onCleanup } from "./cleanup.js";
import { compileTargets } from "./compile.js";
import { ACCOUNTS, parsePlan, runsOf, USAGE, type BenchPlan, type Profile } from "./options.js";
import { openProfile, type ProfileDatabase } from "./profiles.js";
import { formatConsole, PERFORMANCE_DOC, writeReport } from "./report.js";
import { machineInfo, type BenchResults } from "./results.js";
import { runOne, type RunResult } from "./run-one.js";
import { PROFILES_DIR } from "./targets.js";
import { benchServers, CLI, INITIAL_BALANCE, isLoopback, MAX_AMOUNT, POOL_SIZE, REQUEST_TIMEOUT_MS, ROOT } from "./settings.js";

const log = (line: string) => process.stdout.write(`${line}\n`);

/** Newest modification time under a folder: a dist/ older than src/ measures stale code. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function gitCommit(): string | null {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return null;
  }
}

async function migrate(db: BenchDatabase, natsUrl: string): Promise<void> {
  const child = spawnChild([CLI, "migrate"], childEnvironment({ DATABASE_URL: db.url, NATS_URL: natsUrl }));
  const code = await Promise.race([child.exited, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 60_000).unref())]);
  if (code !== 0) {
    await child.stop(1000);
    throw new Error(`herald migrate failed (${code}): ${child.stderrTail()}`);
  }
}

function summaryLine(r: RunResult): string {
  if (!r.completed || !r.load) return `failed: ${r.error?.split("\n")[0] ?? "unknown"}`;
  const l = r.load.latencyMs;
  const retries = r.database?.retries;
  return [
    `${r.load.window.committedPerSec.toFixed(0)}/s`,
    `p50 ${l.p50 ?? "-"} p99 ${l.p99 ?? "-"} ms`,
    `rss ${r.worker.peakRssMb ?? "-"} MB`,
    `cpu ${r.worker.cpuS ?? "-"} s`,
    ...(retries !== undefined ? [`retries ${retries ?? "-"}`] : []),
    ...(r.load.window.overloaded ? [`overloaded ${r.load.window.overloaded}`] : []),
  ].join(", ");
}

async function main(plan: BenchPlan): Promise<number> {
  const started = Date.now();
  if (!existsSync(CLI)) throw new Error("dist/ is missing: run `npm run build` first");
  const stale = newestMtime(join(ROOT, "src")) > statSync(CLI).mtimeMs;
  if (stale) log("warning: src/ changed after the last build; Herald runs from dist/ (npm run build)");
  const servers = benchServers();
  if (!isLoopback(servers.databaseUrl) || !isLoopback(servers.natsUrl)) throw new Error("the bench only loads servers on this machine (127.0.0.1)");

  const runs = runsOf(plan);
  const perRunS = plan.durationS + plan.warmupS + 2;
  log(`Herald bench (${plan.mode}): ${runs.length} runs of ${plan.warmupS}+${plan.durationS} s, about ${Math.ceil((runs.length * perRunS) / 60)} min`);
  const machine = machineInfo();
  await compileTargets();
  const nc = await connect({ servers: servers.natsUrl.split(","), name: "herald-bench" });
  onCleanup("close NATS", () => nc.close());
  const profiles = new Map<Profile, ProfileDatabase>();
  const profileOf = async (profile: Profile): Promise<ProfileDatabase> => {
    let p = profiles.get(profile);
    if (!p) {
      p = await openProfile(profile, servers.databaseUrl, (db) => migrate(db, servers.natsUrl));
      profiles.set(profile, p);
      log(`${profile} profile: database ${p.db.name} (${p.db.version})${Object.keys(p.settings).length ? `, ${Object.entries(p.settings).map(([k, v]) => `${k}=${v}`).join(" ")}` : ""}`);
    }
    return p;
  };
  const db = (await profileOf(runs[0]?.profile ?? "default")).db;
  log(`NATS ${nc.info?.version ?? "?"}; ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const results: RunResult[] = [];
  for (const [i, spec] of runs.entries()) {
    if (isStopping()) throw new Error("interrupted");
    const where = spec.profile || spec.latencyMs !== undefined ? ` ${spec.profile ?? "default"} ${spec.latencyMs === null || spec.latencyMs === undefined ? "direct" : `${spec.latencyMs}ms`}` : "";
    const label = `[${String(i + 1).padStart(2)}/${runs.length}] ${spec.scenario.padEnd(9)} C=${String(spec.clients).padEnd(4)} ${spec.comparator.padEnd(7)}${where}`;
    const profile = await profileOf(spec.profile ?? "default");
    const workerDbUrl = await profile.urlFor(spec.latencyMs);
    const result = await runOne(spec, { db: profile.db, natsUrl: servers.natsUrl, nc, workerDbUrl }, plan);
    results.push(result);
    log(`${label} ${summaryLine(result)}`);
    for (const w of result.warnings) log(`  WARNING: ${w}`);
  }

  // The CDC benchmark (bench/cdc/): PostgreSQL logical replication into JetStream, after the command runs.
  log("");
  const { runCdcBench } = await import("./cdc/run-cdc.js");
  const cdc = plan.cdc
    ? await runCdcBench({ quick: plan.mode === "quick", natsUrl: servers.natsUrl, log }).catch((err: Error) => {
        log(`cdc bench could not run: ${err.message}`);
        return { error: err.message };
      })
    : undefined;
  // An interrupted suite must not overwrite the last complete results.
  if (isStopping()) throw new Error("interrupted");
  const heraldEnvironment = Object.fromEntries(
    Object.entries(childEnvironment()).filter((e): e is [string, string] => e[0].startsWith("HERALD_") && e[1] !== undefined && !["HERALD_DOMAIN", "HERALD_STREAM"].includes(e[0])),
  );
  const report: BenchResults = {
    version: 1,
    date: new Date(started).toISOString(),
    mode: plan.mode,
    elapsedS: Math.round((Date.now() - started) / 1000),
    machine: { ...machine, loadAverageAfter: machineInfo().loadAverageAfter },
    settings: {
      durationS: plan.durationS,
      warmupS: plan.warmupS,
      poolSize: POOL_SIZE,
      accounts: ACCOUNTS,
      initialBalance: INITIAL_BALANCE,
      maxAmount: MAX_AMOUNT,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      database: db.version,
      profiles: Object.fromEntries([...profiles.values()].map((p) => [p.profile, { database: p.db.version, settings: p.settings, proxy: p.proxyKind() ?? null }])),
      nats: nc.info?.version ?? "unknown",
      heraldEnvironment: { ...heraldEnvironment, HERALD_DB_POOL_MAX: String(POOL_SIZE) },
      otelVariables: Object.keys(childEnvironment()).filter((k) => k.startsWith("OTEL_")),
      herald: { commit: gitCommit(), builtAt: new Date(statSync(CLI).mtimeMs).toISOString(), srcChangedAfterBuild: stale },
    },
    runs: results,
    cdc,
    warnings: results.flatMap((r) => r.warnings.map((w) => `${r.scenario} C=${r.clients} ${r.comparator}: ${w}`)),
  };
  await writeReport(report, { docs: plan.writeDocs });
  log("");
  log(formatConsole(report));
  log("");
  if (plan.profile) log(`CPU profiles of Herald's workers: ${PROFILES_DIR.slice(ROOT.length)}/<run>/*.cpuprofile (open in Chrome DevTools or speedscope)`);
  log(`Wrote bench/results/latest.json and bench/results/latest.svg${plan.writeDocs ? ` and ${PERFORMANCE_DOC.slice(ROOT.length)}` : " (docs/performance.md is written by full runs only)"}; ${report.elapsedS} s in all.`);
  const broken = results.some((r) => !r.completed || (r.invariant && !r.invariant.ok));
  return broken ? 1 : 0;
}

let plan: BenchPlan | undefined;
try {
  plan = parsePlan(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`bench: ${(err as Error).message}\n\n${USAGE}\n`);
  process.exit(2);
}
if (!plan) {
  log(USAGE);
  process.exit(0);
}
installSignalCleanup();
const code = await main(plan).catch((err) => {
  // After Ctrl-C, errors from the torn-down run are expected noise.
  if (!isStopping()) process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  return isStopping() ? 130 : 1;
});
await cleanupAll();
process.exit(code);
