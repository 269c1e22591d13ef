import { randomBytes } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import { Svcm } from "@nats-io/services";
import { childEnvironment } from "../src/config.js";
import {
  checkInvariant,
  clearRunTables,
  databaseCounters,
  depositedSum,
  resetBankBalances,
  serverHelperPids,
  sessionPids,
  storedOutcome,
  waitSessionsGone,
  type DatabaseCounters,
  type InvariantCheck,
  type StoredOutcome,
} from "./bench-database.js";
import { jsonLine, spawnChild, type Child } from "./child.js";
import type { LoadResult } from "./load-generator.js";
import { ACCOUNTS, commandOf, type RunSpec } from "./options.js";
import { cpuPercents, listeningPid, machineCpu, processCpuSeconds, processMemoryMb, processTree, round2 } from "./proc-stats.js";
import { perCommand, readSnapshot, usageBetween, type PerCommand, type Role, type Usage } from "./process-usage.js";
import { REQUEST_TIMEOUT_MS, ROOT } from "./settings.js";
import { createStatementProbe, statementsBetween, type StatementCounts } from "./statement-probe.js";
import { startTarget, type Target, type TargetContext } from "./targets.js";

export interface RunResult extends RunSpec {
  domain: string;
  /** False when the run could not complete (see `error`); its numbers are then partial. */
  completed: boolean;
  error?: string;
  load?: LoadResult;
  worker: { peakRssMb: number | null; rssMbAtEnd: number | null; cpuS: number | null; cpuMsPerCommit: number | null };
  machineBusyPercent: number | null;
  /**
   * CPU time and write system calls in the measured window of each process a
   * command passes through, from /proc: the worker (all its processes), the
   * database (the target's sessions and the server's helpers), nats-server,
   * the load generator. Absent in results from before it was recorded.
   */
  usage?: Usage;
  /** The same per committed command in the window (CPU in ms). */
  perCommand?: PerCommand;
  /**
   * Database work: statements and driver queries the target's processes sent
   * in the window (counted in its pg driver), and rows written and
   * transactions committed per command that reached the database over the
   * whole run (PostgreSQL statistics).
   */
  statements?: { window: StatementCounts | null; perCommand: number | null; queriesPerCommand: number | null; rowsWrittenPerCommand: number | null };
  /** Share of all cores idle waiting for disk I/O in the window (a stalled WAL flush shows here). */
  machineIowaitPercent?: number | null;
  database?: {
    /** Serialization retries: Herald's from sum(attempts - 1); the glue's as it counted them. */
    retries: number | null;
    /** Herald's own counters from `$SRV.STATS` (retries include group-commit batches the column misses). */
    workerStats?: { retries: number; batches: number; committed: number } | null;
    /** Committed database transactions per command that reached the database (statistics; relay polls included). */
    transactionsPerCommand: number | null;
    /** CPU of the target's database sessions in the measured window (local PostgreSQL only). */
    sessionCpuS: number | null;
    stored: StoredOutcome;
    eventsInStream: number | null;
  };
  invariant?: InvariantCheck;
  /** Broken guarantees and other trouble, one line each; empty when all is well. */
  warnings: string[];
}

const PREFIX = { ceiling: "bc", glue: "bg", herald: "bh" } as const;

let natsPid: { url: string; pid: number | undefined } | undefined;
/** nats-server's process, found once by the port it listens on. */
function natsServerPid(natsUrl: string): number | undefined {
  if (natsPid?.url !== natsUrl) {
    const port = Number(new URL(natsUrl.split(",")[0]!.trim().replace(/^nats:/, "http:")).port || 4222);
    natsPid = { url: natsUrl, pid: listeningPid(port) };
  }
  return natsPid.pid;
}

/** Every process a command passes through, by role, now (the worker's tree: a supervisor's workers too). */
async function rolePids(ctx: TargetContext, target: Target, generator: Child): Promise<Record<Role, number[]>> {
  const usesDb = target.comparator !== "ceiling";
  const sessions = usesDb ? await sessionPids(ctx.db).catch(() => []) : [];
  const helpers = usesDb ? await serverHelperPids(ctx.db).catch(() => []) : [];
  const nats = natsServerPid(ctx.natsUrl);
  return { worker: processTree(target.child.pid), database: [...sessions, ...helpers], nats: nats === undefined ? [] : [nats], generator: [generator.pid] };
}

async function sessionCpu(ctx: TargetContext, target: Target): Promise<Map<number, number>> {
  const cpu = new Map<number, number>();
  if (target.comparator === "ceiling") return cpu;
  for (const pid of await sessionPids(ctx.db).catch(() => [])) {
    const s = processCpuSeconds(pid);
    if (s !== undefined) cpu.set(pid, s);
  }
  return cpu;
}

/** Runs one comparator at one concurrency: start it, load it, measure it, check it, stop it. */
export async function runOne(spec: RunSpec, ctx: TargetContext, timing: { durationS: number; warmupS: number; profile?: boolean }): Promise<RunResult> {
  const domain = `${PREFIX[spec.comparator]}${randomBytes(5).toString("hex")}`;
  const result: RunResult = {
    ...spec,
    domain,
    completed: false,
    worker: { peakRssMb: null, rssMbAtEnd: null, cpuS: null, cpuMsPerCommit: null },
    machineBusyPercent: null,
    warnings: [],
  };
  const usesDb = spec.comparator !== "ceiling";
  if (usesDb) await clearRunTables(ctx.db);
  const countersBefore = await databaseCounters(ctx.db).catch(() => undefined);
  let target: Target | undefined;
  let generator: Child | undefined;
  let glueStats: Record<string, number> | undefined;
  try {
    // The generator loads and connects while the target starts; it begins on "go".
    generator = spawnChild(
      [
        "--import",
        "tsx",
        "bench/load-generator.ts",
        ...["--subject", `${domain}.cmd.${commandOf(spec.scenario)}`, "--command", commandOf(spec.scenario)],
        ...["--clients", String(spec.clients), "--accounts", String(ACCOUNTS[spec.scenario])],
        ...["--duration", String(timing.durationS), "--warmup", String(timing.warmupS), "--tag", domain, "--start-on-stdin"],
      ],
      childEnvironment({ NATS_URL: ctx.natsUrl }),
      "open",
    );
    const connected = generator.waitForLine(jsonLine("connected"), 30_000, "load generator start");
    connected.catch(() => undefined);
    target = await startTarget(spec.comparator, domain, ctx, { profile: timing.profile ? spec : undefined, processes: spec.processes });
    const pid = target.child.pid;
    const probe = createStatementProbe(target.child);
    await connected;
    generator.send("go\n");
    await generator.waitForLine(jsonLine("measuring"), timing.warmupS * 1000 + 30_000, "load generator warmup");
    const cpu0 = processCpuSeconds(pid);
    const machine0 = machineCpu();
    const sessions0 = await sessionCpu(ctx, target);
    const pids0 = await rolePids(ctx, target, generator);
    const snapshot0 = readSnapshot(pids0);
    const statements0 = await probe.read(pids0.worker);
    await generator.waitForLine(jsonLine("measured"), timing.durationS * 1000 + 10_000, "load generator window");
    const pids1 = await rolePids(ctx, target, generator);
    const snapshot1 = readSnapshot(pids1);
    const statements1 = await probe.read(pids1.worker);
    const cpu1 = processCpuSeconds(pid);
    const machine1 = machineCpu();
    const sessions1 = await sessionCpu(ctx, target);
    const load = await generator.waitForLine(jsonLine<LoadResult>("result"), REQUEST_TIMEOUT_MS + 15_000, "load generator result");
    await generator.exited;
    result.load = load;

    // Several worker processes (herald start --processes): their memory and CPU together.
    const memory = workerMemory(pid);
    result.usage = usageBetween(snapshot0, snapshot1);
    const cpuS = result.usage.worker?.cpuS ?? (cpu0 !== undefined && cpu1 !== undefined ? round2(cpu1 - cpu0) : null);
    const committed = load.window.committed;
    result.worker = {
      peakRssMb: memory?.peakRssMb ?? null,
      rssMbAtEnd: memory?.rssMb ?? null,
      cpuS,
      cpuMsPerCommit: cpuS !== null && committed > 0 ? round2((cpuS * 1000) / committed) : null,
    };
    result.perCommand = perCommand(result.usage, committed);
    const statementWindow = statementsBetween(statements0, statements1);
    const machine = cpuPercents(machine0, machine1);
    result.machineBusyPercent = machine?.busy ?? null;
    result.machineIowaitPercent = machine?.iowait ?? null;
    let sessionCpuS: number | null = null;
    if (sessions1.size > 0) {
      sessionCpuS = 0;
      for (const [p, s] of sessions1) sessionCpuS += s - (sessions0.get(p) ?? 0);
      sessionCpuS = round2(sessionCpuS);
    }
    const workerStats = spec.comparator === "herald" ? await heraldStats(ctx, domain) : undefined;
    const stopped = await target.stop();
    glueStats = stopped.stats;
    if (stopped.exitCode !== 0) {
      result.warnings.push(`${spec.comparator} exited with code ${stopped.exitCode} on stop; stderr: ${target.child.stderrTail().split(ROOT).join("").slice(-300)}`);
    }
    if (usesDb) {
      const facts = await databaseFacts(ctx, target, load, { countersBefore, sessionCpuS, glueStats });
      result.database = { ...facts.database, ...(workerStats !== undefined ? { workerStats } : {}) };
      const per = (n: number | undefined) => (n === undefined || committed <= 0 ? null : round2(n / committed));
      result.statements = {
        window: statementWindow,
        perCommand: per(statementWindow?.statements),
        queriesPerCommand: per(statementWindow?.queries),
        rowsWrittenPerCommand: facts.rowsWrittenPerCommand,
      };
    }
    result.completed = true;
  } catch (err) {
    // Relative paths only: results are shared, the checkout's location is nobody's business.
    result.error = (err as Error).message.split(ROOT).join("").slice(0, 2000);
    result.warnings.push(`run failed: ${result.error.split("\n")[0]}`);
    await generator?.stop(2000);
    if (target) await target.stop().catch(() => undefined);
  } finally {
    await target?.deleteStream();
  }
  if (usesDb) await checkGuarantees(ctx, result);
  return result;
}

/** Resident and peak memory of a worker and its child processes, summed (MiB). */
function workerMemory(pid: number): { rssMb: number; peakRssMb: number } | undefined {
  const readings = processTree(pid).flatMap((p) => processMemoryMb(p) ?? []);
  if (readings.length === 0) return undefined;
  return { rssMb: round2(readings.reduce((a, r) => a + r.rssMb, 0)), peakRssMb: round2(readings.reduce((a, r) => a + r.peakRssMb, 0)) };
}

/** Herald's dispatcher counters, as its micro service instances report them to `$SRV.STATS`, summed over the instances. */
async function heraldStats(ctx: TargetContext, domain: string): Promise<{ retries: number; batches: number; committed: number } | null> {
  try {
    const total = { retries: 0, batches: 0, committed: 0 };
    let seen = 0;
    for await (const stats of await new Svcm(ctx.nc).client().stats(domain)) {
      const data = stats.endpoints?.find((e) => e.data && typeof (e.data as Record<string, unknown>).retries === "number")?.data as Record<string, unknown> | undefined;
      if (!data) continue;
      seen++;
      total.retries += Number(data.retries);
      total.batches += Number(data.batches ?? 0);
      total.committed += Number(data.committed ?? 0);
    }
    return seen ? total : null;
  } catch {
    return null;
  }
}

async function databaseFacts(
  ctx: TargetContext,
  target: Target,
  load: LoadResult,
  extra: { countersBefore: DatabaseCounters | undefined; sessionCpuS: number | null; glueStats: Record<string, number> | undefined },
): Promise<{ database: NonNullable<RunResult["database"]>; rowsWrittenPerCommand: number | null }> {
  // Sessions flush their statistics when they end; wait for that before reading them.
  await waitSessionsGone(ctx.db);
  const after = await databaseCounters(ctx.db).catch(() => undefined);
  const before = extra.countersBefore;
  const stored = await storedOutcome(ctx.db, target.comparator === "herald" ? "herald" : "glue", target.domain);
  const reached = load.total.committed + load.total.duplicates + load.total.rejected;
  let eventsInStream: number | null = null;
  if (target.stream) {
    const jsm = await jetstreamManager(ctx.nc);
    eventsInStream = await jsm.streams.info(target.stream).then((i) => i.state.messages, () => null);
  }
  const per = (n: number) => (before !== undefined && after !== undefined && reached > 0 ? round2(n / reached) : null);
  return {
    database: {
      retries: target.comparator === "herald" ? stored.retries : (extra.glueStats?.retries ?? null),
      transactionsPerCommand: per((after?.transactions ?? 0) - (before?.transactions ?? 0)),
      sessionCpuS: extra.sessionCpuS,
      stored,
      eventsInStream,
    },
    rowsWrittenPerCommand: per((after?.rowsWritten ?? 0) - (before?.rowsWritten ?? 0)),
  };
}

/** The guarantees hold in the bench too: money conserved, one effect per commit, every event published once. */
async function checkGuarantees(ctx: TargetContext, result: RunResult): Promise<void> {
  const table = result.comparator === "herald" ? "bank_accounts" : "glue_accounts";
  // Deposits add money: the sum grows by what the committed ones added, and goes back for the next run.
  const added = result.scenario === "deposit" ? await depositedSum(ctx.db, result.domain) : 0n;
  result.invariant = await checkInvariant(ctx.db, table, added);
  if (added > 0n) await resetBankBalances(ctx.db);
  if (!result.invariant.ok) {
    result.warnings.push(
      `INVARIANT BROKEN in ${table}: sum ${result.invariant.actualSum} (expected ${result.invariant.expectedSum}), ${result.invariant.negative} negative balance(s)`,
    );
  }
  const db = result.database;
  const total = result.load?.total;
  if (!db || !total) return;
  // Fresh commits are all stored; beyond them only commands whose first reply was lost (replayed or unknown) may be.
  if (db.stored.committed < total.committed || db.stored.committed > total.committed + total.duplicates + total.unknownOutcome) {
    result.warnings.push(
      `stored commits (${db.stored.committed}) do not match committed replies (${total.committed} fresh, ${total.duplicates} replayed, ${total.unknownOutcome} unknown)`,
    );
  }
  if (db.stored.unpublished > 0) result.warnings.push(`${db.stored.unpublished} event(s) left unpublished in the outbox`);
  if (db.eventsInStream !== null && db.eventsInStream !== db.stored.events) {
    result.warnings.push(`stream holds ${db.eventsInStream} event(s), the outbox ${db.stored.events}`);
  }
}
