import type { NatsConnection } from "@nats-io/nats-core";
import { mib } from "../kit/process-memory.js";
import { waitFor } from "../kit/wait.js";
import { checkErrorReply, checkValid } from "./checks.js";
import { checkStoredState, checkWorkerStats, waitForOutboxDrained } from "./invariants.js";
import { objectText, q, utf8 } from "./json-text.js";
import { runFuzz, type RunResult } from "./runner.js";
import { sendRaw } from "./send.js";
import { setupWorker } from "./worker-process.js";

/**
 * One complete fuzz run, shared by the CI test (short mode) and run.ts (long
 * mode): a worker process on a fresh database, the run, then every invariant.
 */

export interface SessionOptions {
  seed: number;
  requests: number;
  concurrency?: number;
  timeoutMs?: number;
  includeKnownIssues?: boolean;
  /** Progress lines; default: none. */
  log?: (line: string) => void;
}

export interface Problems {
  /** A request got another reply than the protocol prescribes, or none. */
  replies: string[];
  /** Rows, balances, events or counters the valid traffic does not explain. */
  state: string[];
  /** RSS over the ceiling, or not back within the margin. */
  memory: string[];
  /** The worker exited, or stopped serving after the run. */
  process: string[];
}

export interface SessionReport {
  seed: number;
  run: RunResult;
  /** What went wrong, by invariant; all empty when the run passed. */
  problems: Problems;
  rss: { start: number; peak: number; after: number; settleMs: number };
}

const MAX_PAYLOAD = 65_536;
/**
 * Allowed RSS growth once the load is over, over the idle worker's RSS. V8
 * keeps some of the old generation it grew and malloc keeps freed arenas, so
 * RSS does not return to the byte; a per-request leak would still show (30,000
 * requests retaining even 2 KB each is 60 MB, a retained 64 KB body is 1.9 GB).
 */
export const RSS_MARGIN = 50 * 2 ** 20;
/** RSS the worker may never exceed under the fuzz load. */
export const RSS_CEILING = 300 * 2 ** 20;

export async function fuzzSession(options: SessionOptions): Promise<SessionReport> {
  const log = options.log ?? (() => undefined);
  const setup = await setupWorker();
  const { nc, domain, worker, database } = setup;
  const problems: Problems = { replies: [], state: [], memory: [], process: [] };
  try {
    const start = worker.rss.sample() ?? 0;
    log(`seed ${options.seed}: ${options.requests} requests to ${domain}; worker pid ${worker.pid}, RSS ${mib(start)}`);
    const run = await runFuzz(nc, domain, {
      seed: options.seed,
      requests: options.requests,
      maxPayload: MAX_PAYLOAD,
      includeKnownIssues: options.includeKnownIssues ?? true,
      concurrency: options.concurrency ?? 32,
      timeoutMs: options.timeoutMs ?? 15_000,
      progressEvery: 5000,
      onProgress: (done, total) => log(`  ${done}/${total} sent, RSS ${mib(worker.rss.last)} (peak ${mib(worker.rss.peak)})`),
    });
    const peak = worker.rss.peak;
    problems.replies.push(...run.failures);
    if (run.failures.length >= 1000) problems.replies.push("(failures after the first 1000 were not recorded)");
    const exitedDuring = worker.unexpectedExit();
    if (exitedDuring) problems.process.push(exitedDuring);
    if (peak > RSS_CEILING) problems.memory.push(`worker RSS peaked at ${mib(peak)}, over ${mib(RSS_CEILING)}`);

    if (!exitedDuring) {
      await waitForOutboxDrained(database.db).catch((err: Error) => problems.state.push(err.message));
      problems.state.push(...(await checkStoredState(database.db, nc, domain, run)));
      problems.state.push(...(await checkWorkerStats(nc, domain, run)));
    }

    // Memory returns: poll until RSS is back within the margin (no gc() in the child).
    const settleStart = performance.now();
    const after = await waitFor(() => {
      const rss = worker.rss.sample();
      return rss !== undefined && rss <= start + RSS_MARGIN ? rss : false;
    }, { timeoutMs: 60_000, intervalMs: 250, what: "worker RSS to settle" }).catch(() => {
      problems.memory.push(`worker RSS stayed at ${mib(worker.rss.last)} for 60 s after the load; start ${mib(start)} + margin ${mib(RSS_MARGIN)}`);
      return worker.rss.last ?? 0;
    });
    const settleMs = Math.round(performance.now() - settleStart);

    if (!worker.unexpectedExit()) problems.process.push(...(await stillServes(nc, domain, run)));
    const exited = worker.unexpectedExit();
    if (exited && !exitedDuring) problems.process.push(exited);
    return { seed: options.seed, run, problems, rss: { start, peak, after, settleMs } };
  } finally {
    await setup.close();
  }
}

/** After the run: a valid deposit commits with the model's balance, bad input still gets its codes. */
async function stillServes(nc: NatsConnection, domain: string, run: RunResult): Promise<string[]> {
  const { model } = run.plan;
  const id = model.opened[0]!;
  const key = `after-${run.plan.options.seed}`;
  const body = utf8(objectText([["accountId", q(id)], ["amount", "7"]]));
  const headers = utf8(`NATS/1.0\r\nIdempotency-Key: ${key}\r\n\r\n`);
  const expect = { status: "committed" as const, result: { accountId: id, balance: model.balances.get(id)! + 7 } };
  const op = { index: -1, key, command: "deposit" as const, fields: [], body, traceparent: undefined, expect };
  const problems = [checkValid(domain, op, await sendRaw(nc, `${domain}.cmd.deposit`, headers, body, 10_000))];
  problems.push(checkErrorReply(await sendRaw(nc, `${domain}.cmd.deposit`, headers, utf8("{"), 10_000), ["invalid_json"]));
  problems.push(checkErrorReply(await sendRaw(nc, `${domain}.cmd.nope`, undefined, utf8("{}"), 10_000), ["unknown_command"]));
  return problems.filter((p): p is string => p !== undefined).map((p) => `after the run: ${p}`);
}

/** Human-readable figures of a run. */
export function formatReport(report: SessionReport): string[] {
  const { run, rss } = report;
  const all = allProblems(report);
  const byCount = (r: Record<string, number>) => Object.entries(r).sort(([, a], [, b]) => b - a).map(([k, n]) => `${k} ${n}`).join(", ");
  return [
    `seed ${report.seed}: ${run.sent} requests (${run.valid} valid, ${run.bad} bad) in ${(run.durationMs / 1000).toFixed(1)} s`,
    `replies: ${byCount(run.tally)}`,
    `bad kinds: ${byCount(run.kinds)}`,
    `latency ms: p50 ${run.latency.p50}, p99 ${run.latency.p99}, max ${run.latency.max}`,
    `worker RSS: start ${mib(rss.start)}, peak ${mib(rss.peak)}, after ${mib(rss.after)} (settled in ${(rss.settleMs / 1000).toFixed(1)} s)`,
    all.length === 0 ? "all invariants held" : `${all.length} problem(s):\n  ${all.slice(0, 30).join("\n  ")}`,
  ];
}

export const allProblems = (report: SessionReport): string[] => Object.values(report.problems).flat();
