/**
 * Turns results into the stdout tables, bench/results/latest.svg and
 * docs/performance.md. Run alone to regenerate them from latest.json:
 *   node --import tsx bench/report.ts [--docs]
 */
import { writeFile } from "node:fs/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { cdcConsoleLines, cdcDocSection } from "./cdc/cdc-report.js";
import { renderChart } from "./chart.js";
import { cpuTargetLine, PER_COMMAND_HEADER, PER_COMMAND_NOTE, perCommandRows, processesSummary, runLabel } from "./per-command-report.js";
import { COMPARATORS, type Scenario } from "./options.js";
import { clientLevels, findRun, LATEST_SVG, loadResults, placementOf, ratio, saveResults, throughput, type BenchResults } from "./results.js";
import type { RunResult } from "./run-one.js";

export const PERFORMANCE_DOC = fileURLToPath(new URL("../docs/performance.md", import.meta.url));
const TABLE_SCENARIOS: Scenario[] = ["uniform", "contended"];

const num = (v: number | null | undefined, digits = 0): string => (v === null || v === undefined ? "-" : v.toFixed(digits));
const ms = (v: number | null | undefined): string => (v === null || v === undefined ? "-" : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0));
const times = (v: number | null): string => (v === null ? "-" : `${v.toFixed(2)}x`);
const latencies = (run: RunResult | undefined) => [ms(run?.load?.latencyMs.p50), ms(run?.load?.latencyMs.p95), ms(run?.load?.latencyMs.p99)];
const errorsOf = (run: RunResult): string =>
  Object.entries(run.load?.window.errors ?? {}).map(([code, n]) => `${code}:${n}`).join(" ") || "-";

/** One row per scenario x C: throughput and latency of each comparator, and Herald's ratios. */
function mainRows(results: BenchResults): string[][] {
  const rows: string[][] = [];
  for (const scenario of TABLE_SCENARIOS) {
    for (const clients of clientLevels(results, scenario)) {
      const runs = COMPARATORS.map((c) => findRun(results, scenario, clients, c));
      const [ceiling, glue, herald] = runs.map(throughput) as [number | null, number | null, number | null];
      rows.push([
        scenario,
        String(clients),
        ...runs.flatMap((run) => [num(throughput(run)), ...latencies(run)]),
        times(ratio(herald, glue)),
        times(ratio(herald, ceiling)),
      ]);
    }
  }
  return rows;
}

const MAIN_HEADER = ["scenario", "C", ...COMPARATORS.flatMap((c) => [`${c}/s`, "p50", "p95", "p99"]), "H/glue", "H/ceil"];
const RESOURCE_HEADER = ["scenario", "C", "target", "commits/s", "peak RSS MB", "CPU s", "CPU ms/commit", "retries", "DB tx/cmd", "DB CPU s", "machine busy %", "errors", "checks"];

function resourceRows(results: BenchResults): string[][] {
  return results.runs.map((r) => [
    // The latency x profile runs say where their database was; --processes runs say how many.
    runLabel(r),
    String(r.clients),
    r.comparator,
    num(throughput(r)),
    num(r.worker.peakRssMb, 1),
    num(r.worker.cpuS, 2),
    num(r.worker.cpuMsPerCommit, 2),
    // Herald's own count too when it differs: group-commit batches keep attempts at 1.
    r.database?.workerStats && r.database.workerStats.retries !== r.database.retries ? `${num(r.database.retries)} (${r.database.workerStats.retries})` : num(r.database?.retries),
    num(r.database?.transactionsPerCommand, 2),
    num(r.database?.sessionCpuS, 2),
    // I/O wait is shown only when notable: it explains a slow run on an idle-looking machine.
    `${num(r.machineBusyPercent, 0)}${(r.machineIowaitPercent ?? 0) >= 5 ? ` (io ${num(r.machineIowaitPercent, 0)})` : ""}`,
    errorsOf(r),
    !r.completed ? "FAILED" : r.warnings.length ? "WARN" : r.comparator === "ceiling" ? "n/a" : "ok",
  ]);
}

function overloadSummary(results: BenchResults): string[] {
  const run = results.runs.find((r) => r.scenario === "overload");
  if (!run?.load) return run ? [`overload (${run.clients} clients, Herald): failed: ${run.error ?? "no result"}`] : [];
  const base = throughput(findRun(results, "uniform", 256, "herald"));
  const w = run.load.window;
  return [
    `overload: ${run.clients} clients against Herald (in-flight limit 512 by default), uniform accounts`,
    `  committed/s ${num(w.committedPerSec)} (${base === null ? "no 256-client figure" : `${times(ratio(w.committedPerSec, base))} of the 256-client ${num(base)}/s`})`,
    `  overloaded replies ${w.overloaded} in ${results.settings.durationS} s (${num(w.overloaded / results.settings.durationS)}/s), p50 ${ms(run.load.overloadedLatencyMs.p50)} ms, p99 ${ms(run.load.overloadedLatencyMs.p99)} ms`,
    `  committed latency p50/p95/p99 ${latencies(run).join("/")} ms; end to end incl. retries p50/p99 ${ms(run.load.endToEndMs.p50)}/${ms(run.load.endToEndMs.p99)} ms`,
    `  worker peak RSS ${num(run.worker.peakRssMb, 1)} MB (256 clients: ${num(findRun(results, "uniform", 256, "herald")?.worker.peakRssMb, 1)} MB), CPU ${num(run.worker.cpuS, 2)} s`,
  ];
}

const LATENCY_HEADER = ["profile", "scenario", "C", "one-way DB latency", "glue/s", "p50", "p99", "herald/s", "p50", "p99", "H/glue", "H p99/glue p99"];
const latencyLabel = (ms: number | null) => (ms === null ? "direct" : `${ms} ms`);

/** The profile x latency runs: one row per profile, scenario, C and latency, glue beside Herald. */
function latencyRows(results: BenchResults): string[][] {
  const points = new Map<string, { profile: "default" | "rowlocks"; scenario: Scenario; clients: number; latencyMs: number | null }>();
  for (const r of results.runs) {
    const p = placementOf(r);
    if (r.scenario === "overload" || (p.profile === "default" && p.latencyMs === null)) continue;
    points.set(`${p.profile}|${r.scenario}|${r.clients}|${p.latencyMs}`, { ...p, scenario: r.scenario, clients: r.clients });
  }
  return [...points.values()].map((pt) => {
    const glue = findRun(results, pt.scenario, pt.clients, "glue", pt);
    const herald = findRun(results, pt.scenario, pt.clients, "herald", pt);
    const lat = (run: typeof glue) => [ms(run?.load?.latencyMs.p50), ms(run?.load?.latencyMs.p99)];
    return [
      pt.profile,
      pt.scenario,
      String(pt.clients),
      latencyLabel(pt.latencyMs),
      num(throughput(glue)),
      ...lat(glue),
      num(throughput(herald)),
      ...lat(herald),
      times(ratio(throughput(herald), throughput(glue))),
      times(ratio(herald?.load?.latencyMs.p99 ?? null, glue?.load?.latencyMs.p99 ?? null)),
    ];
  });
}

/** What the delaying proxy costs: the same run at 0 ms through it against direct. */
function proxyOverhead(results: BenchResults): string | undefined {
  const lines: string[] = [];
  for (const c of ["glue", "herald"] as const) {
    const direct = throughput(findRun(results, "uniform", 64, c, { profile: "rowlocks", latencyMs: null }));
    const proxied = throughput(findRun(results, "uniform", 64, c, { profile: "rowlocks", latencyMs: 0 }));
    const r = ratio(proxied, direct);
    if (r !== null) lines.push(`${c} ${num(proxied)}/s through the proxy at 0 ms vs ${num(direct)}/s direct (${times(r)})`);
  }
  const kind = Object.values(results.settings.profiles ?? {}).find((p) => p.proxy)?.proxy;
  if (!lines.length) return undefined;
  return `Proxy check (row-level profile, uniform, 64 clients${kind ? `, ${kind} proxy` : ""}): ${lines.join("; ")}. Within 5 % of 1.00x means the proxy itself costs nothing that matters.`;
}

function plainTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 3 && (header === RESOURCE_HEADER || header === PER_COMMAND_HEADER)) || i < 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

const markdownTable = (header: string[], rows: string[][], textColumns = 1): string =>
  [`| ${header.join(" | ")} |`, `| ${header.map((_, i) => (i < textColumns ? "---" : "---:")).join(" | ")} |`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");

/** The tables printed at the end of a run. */
export function formatConsole(results: BenchResults): string {
  const out = [
    `Throughput (committed/s) and latency of committed replies (ms), ${results.settings.durationS} s per run:`,
    plainTable(MAIN_HEADER, mainRows(results)),
    "",
    "Per run: worker process (peak RSS, CPU in the window), retries, database transactions per command, checks:",
    plainTable(RESOURCE_HEADER, resourceRows(results)),
  ];
  const perCommand = perCommandRows(results);
  if (perCommand.length) out.push("", "Per committed command: CPU ms by process, write syscalls, statements, rows written, transactions:", plainTable(PER_COMMAND_HEADER, perCommand));
  out.push(...cpuTargetLine(results));
  const processes = processesSummary(results);
  if (processes.length) out.push("", "Worker processes (herald start --processes):", ...processes.map((l) => `  ${l}`));
  const latency = latencyRows(results);
  if (latency.length) {
    out.push("", "Database latency (one way, through the delaying proxy) x PostgreSQL profile:", plainTable(LATENCY_HEADER, latency));
    const overhead = proxyOverhead(results);
    if (overhead) out.push(overhead);
  }
  const overload = overloadSummary(results);
  if (overload.length) out.push("", ...overload);
  const cdc = cdcConsoleLines(results.cdc);
  if (cdc.length) out.push("", ...cdc);
  out.push("", results.warnings.length ? `WARNINGS (${results.warnings.length}):\n${results.warnings.map((w) => `  ${w}`).join("\n")}` : "All guarantees held: balances conserved and never negative, one stored commit per committed reply, every event published once.");
  return out.join("\n");
}

/** The doc's section on CPU, system calls and statements per command, empty in results from before they were recorded. */
function perCommandSection(results: BenchResults): string {
  const rows = perCommandRows(results);
  if (!rows.length) return "";
  return `
## Where each command's work goes

${PER_COMMAND_NOTE}

${markdownTable(PER_COMMAND_HEADER, rows, 3)}
${cpuTargetLine(results).map((l) => `\n${l}.\n`).join("")}${processesSummary(results).length ? `\n### Worker processes\n\n\`herald start --processes\` against one process, same scenario and clients:\n\n${processesSummary(results).map((l) => `- ${l}`).join("\n")}\n` : ""}`;
}

/** The doc's section on the latency x profile runs, empty when there were none. */
function latencySection(results: BenchResults): string {
  const rows = latencyRows(results);
  if (!rows.length) return "";
  const rowlocks = results.settings.profiles?.rowlocks?.settings;
  const overhead = proxyOverhead(results);
  return `
## Database latency and lock profiles

CockroachDB, the production target, is a network hop and a consensus write away (one to several milliseconds per round trip), and its serializable conflicts are per row. The local PostgreSQL answers in a fraction of a millisecond and, by default, escalates SERIALIZABLE predicate locks from rows to pages (past 2 rows of a page) and to whole relations (past 32 pages), so transactions that touch different rows abort each other. Two knobs bring the bench closer to the target:

- **one-way database latency**: a delaying TCP proxy (\`bench/proxy/delay-proxy.c\`, one epoll thread with a nanosecond timer) sits between every worker, Herald and the glue alike, and the database, and holds each direction's bytes for the set time (so a round trip costs twice it). The bench's own checks connect directly.
- **profile**: \`default\` is the PostgreSQL the bench is pointed at, as configured; \`rowlocks\` is a private PostgreSQL the bench starts${rowlocks ? ` with ${Object.entries(rowlocks).map(([k, v]) => `\`${k} = ${v}\``).join(", ")}` : ""}, so predicate locks stay per row: the stand-in for CockroachDB's conflict model. PostgreSQL users who run Herald with several batches side by side want the same \`max_pred_locks_*\` settings.

Which answers which question: the **row-level profile** at 0 and 2 ms is how Herald fares on the database it is built for (the targets are stated there); the **default profile** says what a stock PostgreSQL reaches.

${markdownTable(LATENCY_HEADER, rows, 4)}
${overhead ? `\n${overhead}\n` : ""}`;
}

/** docs/performance.md, generated from a real run. */
export function formatDoc(results: BenchResults): string {
  const m = results.machine;
  const s = results.settings;
  // Read before the first run, so it is other work, not the bench's own load.
  const busy = m.loadAverageBefore > m.cores;
  return `# Performance

*Generated by \`bench/report.ts\` from a real run of \`npm run bench\` (${results.mode} mode) on ${results.date.slice(0, 10)}. Do not edit by hand: run \`npm run build && npm run bench\` to refresh it.*

![Throughput and p99 latency against concurrency](../bench/results/latest.svg)

## What is measured

Closed-loop clients (a separate process) send bank \`transfer\` commands, each with a fresh \`Idempotency-Key\`, as NATS requests for ${s.durationS} s after a ${s.warmupS} s warm-up. Three systems answer them in turn, on the same NATS server and database, alternating per point:

- **ceiling**: a bare NATS responder that replies a small JSON and touches no database;
- **glue**: the code a competent team would otherwise hand-write (\`bench/glue/\`): one SERIALIZABLE transaction per command with pg on pipelined connections, in three round trips (BEGIN with the claim of the key; the read of both accounts; the update, the outbox row, the stored reply and COMMIT together), retried on 40001, reply, publish to JetStream awaiting the PubAck, mark the rows published in groups;
- **Herald**: \`herald start\` with the bank example, as users run it.

Herald and the glue each get a pool of ${s.poolSize} connections. Scenarios: **uniform** (random pairs of ${s.accounts.uniform.toLocaleString("en-US")} accounts) and **contended** (${s.accounts.contended} hot accounts); **deposit** (Herald only) sends the bank's \`deposit\` to random accounts, a plain handler without \`handleBatch\`, as most users first write one. After every run the bench checks that money was conserved and no balance is negative, that every committed reply has exactly one stored commit, and that every event reached the stream exactly once.

Herald ${s.herald?.commit ? `at commit ${s.herald.commit}` : "from dist/"}${s.herald?.srcChangedAfterBuild ? " (src/ had changed since the build)" : ""}. Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGb} GB, Node ${m.node}, ${s.database}, NATS ${s.nats}. Load average ${m.loadAverageBefore} before, ${m.loadAverageAfter} after: the load generator, the worker, NATS and the database all share these cores, so absolute numbers are modest and noisy; the ratios matter more.${busy ? " Other work kept the machine busy when this run started (load average above the core count): treat the numbers as indicative." : ""}

## Throughput and latency

Committed commands per second; p50/p95/p99 latency of committed replies in ms. H/glue and H/ceil are Herald's throughput as a multiple of the glue's and the ceiling's.

${markdownTable(MAIN_HEADER, mainRows(results))}

## Resources and checks

Peak RSS and CPU seconds are the worker process's (the glue's, Herald's, the responder's) during the measured window. Retries are serialization retries (Herald: \`sum(attempts - 1)\` from the database, with its own \`$SRV.STATS\` count in parentheses when that differs, since commands committed by a group-commit batch keep \`attempts = 1\`; the glue counts its own). DB tx/cmd is committed database transactions per command from the server's statistics (the outbox relays' polls included); DB CPU is the CPU of the worker's database sessions.

${markdownTable(RESOURCE_HEADER, resourceRows(results), 3)}
${perCommandSection(results)}${latencySection(results)}${overloadSummary(results).length ? `\n## Overload\n\n\`\`\`text\n${overloadSummary(results).join("\n")}\n\`\`\`\n` : ""}${cdcDocSection(results.cdc)}
## Guarantees during the run

${results.warnings.length ? results.warnings.map((w) => `- ${w}`).join("\n") : "All held in every run: balances conserved and never negative, one stored commit per committed reply, every event published to the stream once."}

## Reproduce

\`\`\`sh
npm run build
npm run bench                 # full suite with the latency x profile matrix, under 12 minutes on 2 cores
npm run bench -- --quick      # C in {1, 64}, and uniform C=64 on the row-level profile at 0 and 2 ms, under 2 minutes
npm run bench -- --profiles rowlocks --latency direct,0,2 --scenarios uniform --clients 64 --comparators glue,herald
npm run bench -- --scenarios contended --clients 64 --comparators glue,herald --duration 5
\`\`\`

Results land in \`bench/results/latest.json\` and \`bench/results/latest.svg\`.
`;
}

/** Saves latest.json and latest.svg, and the doc when asked. */
export async function writeReport(results: BenchResults, options: { docs: boolean }): Promise<void> {
  await saveResults(results);
  await writeFile(LATEST_SVG, renderChart(results));
  if (options.docs) await writeFile(PERFORMANCE_DOC, formatDoc(results));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = await loadResults();
  await writeFile(LATEST_SVG, renderChart(results));
  if (process.argv.includes("--docs")) await writeFile(PERFORMANCE_DOC, formatDoc(results));
  console.log(formatConsole(results));
}
