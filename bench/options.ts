import { parseArgs } from "node:util";

/** The three things measured against each other, in the order they alternate. */
export const COMPARATORS = ["ceiling", "glue", "herald"] as const;
export type Comparator = (typeof COMPARATORS)[number];

/**
 * Load shapes. `overload` is Herald only, far past its in-flight limit.
 * `deposit` is Herald only too: the bank's `deposit`, a plain handler without
 * `handleBatch`, as most users first write one (the glue has no such command).
 */
export const SCENARIOS = ["uniform", "contended", "overload", "deposit"] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** Accounts each scenario picks from: many (few conflicts) or a hot few (many conflicts). */
export const ACCOUNTS: Record<Scenario, number> = { uniform: 10_000, contended: 20, overload: 10_000, deposit: 10_000 };
export const OVERLOAD_CLIENTS = 1024;
export const DEPOSIT_CLIENTS = 64;

/** The bank command a scenario sends. */
export const commandOf = (scenario: Scenario): "transfer" | "deposit" => (scenario === "deposit" ? "deposit" : "transfer");

/**
 * PostgreSQL profiles. `default`: the server the bench is pointed at, as it is
 * configured. `rowlocks`: a private PostgreSQL the bench starts, with predicate
 * locks kept per row instead of escalating to pages and relations: the stand-in
 * for CockroachDB's row-level conflicts (see bench/profiles.ts).
 */
export const PROFILES = ["default", "rowlocks"] as const;
export type Profile = (typeof PROFILES)[number];

/** One-way database latencies (ms) of the latency matrix; each runs through the delaying proxy. */
export const LATENCIES_MS = [0, 0.5, 2] as const;

export interface BenchPlan {
  mode: "full" | "quick" | "custom";
  scenarios: Scenario[];
  clients: number[];
  comparators: Comparator[];
  durationS: number;
  warmupS: number;
  /** Write docs/performance.md from this run (full runs only unless asked). */
  writeDocs: boolean;
  /** The profile x latency runs (see latencyRuns); empty when none were asked for. */
  latency: RunSpec[];
  /** Write a CPU profile of every Herald worker (node --cpu-prof) under bench/results/profiles/. Default false. */
  profile: boolean;
  /** Run the CDC benchmark after the command runs. Default true; `--no-cdc` skips it. */
  cdc: boolean;
  /** `--processes`: every Herald run of a custom plan with that many worker processes; absent: one (and full and quick runs add PROCESSES_RUN). */
  processes?: number | "auto";
}

export const USAGE = `Usage: npm run bench [-- options]

  --quick                 C in {1, 64}, uniform + contended, and uniform C=64 on the row-level profile at
                          0 and 2 ms; 0.5 s warm-up + 2 s measured per run (< 2 min)
  --scenarios <list>      uniform,contended,overload,deposit (default: all; quick: uniform,contended,deposit)
  --clients <list>        concurrent clients, e.g. 1,64,256 (default)
  --comparators <list>    ceiling,glue,herald (default: all, alternating)
  --duration <seconds>    measured seconds per run (default 10; quick 2)
  --warmup <seconds>      unmeasured seconds before each run (default 1; quick 0.5)
  --profiles <list>       default,rowlocks: run the chosen scenarios/clients/comparators (glue, herald)
  --latency <list>        one-way database latencies in ms through the delaying proxy, e.g. 0,0.5,2
                          (with --profiles or --latency the runs are that cross product; "direct" = no proxy)
  --no-latency            skip the latency x profile matrix of full and quick runs
  --docs / --no-docs      write docs/performance.md (default: full runs only)
  --processes <n|auto>    run Herald as herald start --processes <n|auto> in a custom run (full and quick runs
                          add one uniform C=64 run with auto beside the one-process runs)
  --no-cdc                skip the CDC benchmark that follows the command runs
  --profile               write a CPU profile of each Herald worker (node --cpu-prof) to bench/results/profiles/
  -h, --help              this help

Build first (npm run build): Herald runs from dist/.`;

const list = (value: string | undefined): string[] | undefined =>
  value === undefined ? undefined : value.split(",").map((s) => s.trim()).filter(Boolean);

function pick<T extends string>(what: string, values: string[] | undefined, allowed: readonly T[]): T[] | undefined {
  if (!values) return undefined;
  for (const v of values) if (!allowed.includes(v as T)) throw new Error(`unknown ${what} "${v}" (expected ${allowed.join(", ")})`);
  // Keep the canonical order so runs always alternate the same way.
  return allowed.filter((a) => values.includes(a));
}

function positive(what: string, value: string | undefined, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > max) throw new Error(`--${what} must be a number in (0, ${max}]`);
  return n;
}

/** Parses the flags; returns undefined when help was asked for. */
export function parsePlan(argv: string[]): BenchPlan | undefined {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: "boolean" },
      scenarios: { type: "string" },
      clients: { type: "string" },
      comparators: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      profiles: { type: "string" },
      latency: { type: "string" },
      "no-latency": { type: "boolean" },
      docs: { type: "boolean" },
      "no-docs": { type: "boolean" },
      profile: { type: "boolean" },
      processes: { type: "string" },
      "no-cdc": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return undefined;
  const quick = values.quick === true;
  const scenarios = pick("scenario", list(values.scenarios), SCENARIOS) ?? (quick ? ["uniform", "contended", "deposit"] : [...SCENARIOS]);
  const clients = list(values.clients)?.map((c) => {
    const n = Number(c);
    if (!Number.isInteger(n) || n < 1 || n > 4096) throw new Error(`--clients: "${c}" is not an integer from 1 to 4096`);
    return n;
  });
  const comparators = pick("comparator", list(values.comparators), COMPARATORS) ?? [...COMPARATORS];
  const custom = [values.scenarios, values.clients, values.comparators, values.duration, values.warmup, values.processes].some((v) => v !== undefined);
  const processes = values.processes === undefined || values.processes === "auto" ? values.processes : Number(values.processes);
  if (typeof processes === "number" && !(Number.isInteger(processes) && processes >= 1 && processes <= 64)) throw new Error("--processes must be a whole number from 1 to 64, or auto");
  const profiles = pick("profile", list(values.profiles), PROFILES);
  const latencies = list(values.latency)?.map((l): number | null => {
    if (l === "direct") return null;
    const n = Number(l);
    if (!Number.isFinite(n) || n < 0 || n > 100) throw new Error(`--latency: "${l}" is not "direct" or a number of ms from 0 to 100`);
    return n;
  });
  const crossed = profiles !== undefined || latencies !== undefined;
  const mode = custom || crossed ? "custom" : quick ? "quick" : "full";
  const levels = [...new Set(clients ?? (quick ? [1, 64] : [1, 64, 256]))].sort((a, b) => a - b);
  let latency: RunSpec[] = [];
  if (crossed) {
    const dbComparators = comparators.filter((c) => c !== "ceiling");
    for (const profile of profiles ?? ["rowlocks"]) {
      for (const latencyMs of latencies ?? [...LATENCIES_MS]) {
        for (const scenario of scenarios.filter((s) => s !== "overload" && s !== "deposit")) {
          for (const c of levels) for (const comparator of dbComparators) latency.push({ scenario, clients: c, comparator, profile, latencyMs });
        }
      }
    }
  } else if (!values["no-latency"] && !custom) {
    latency = latencyMatrix(quick).filter((r) => comparators.includes(r.comparator));
  }
  return {
    mode,
    // With --profiles/--latency only the crossed runs are made.
    scenarios: crossed ? [] : scenarios,
    clients: levels,
    comparators,
    latency,
    durationS: positive("duration", values.duration, 600) ?? (quick ? 2 : 10),
    warmupS: positive("warmup", values.warmup, 60) ?? (quick ? 0.5 : 1),
    writeDocs: values["no-docs"] ? false : values.docs === true || mode === "full",
    profile: values.profile === true,
    cdc: values["no-cdc"] !== true,
    ...(processes === undefined ? {} : { processes }),
  };
}

/** Every run of the plan in execution order: per scenario and C, the comparators in turn. */
export interface RunSpec {
  scenario: Scenario;
  clients: number;
  comparator: Comparator;
  /** PostgreSQL profile; absent: default. */
  profile?: Profile;
  /** One-way latency (ms) the delaying proxy adds between the worker and the database; absent or null: direct. */
  latencyMs?: number | null;
  /** Herald only: `herald start --processes <n|auto>`; absent: one process. */
  processes?: number | "auto";
}

/**
 * The latency x profile runs of full and quick mode, glue and Herald in turn.
 * Not every scenario at every latency: the questions are uniform throughput at
 * each latency on the row-level profile (with a direct run beside 0 ms to show
 * what the proxy costs), contended and one client at 0 and 2 ms, and what
 * PostgreSQL's defaults reach at 2 ms.
 */
export function latencyMatrix(quick: boolean): RunSpec[] {
  const points: Array<Omit<RunSpec, "comparator">> = quick
    ? [
        { scenario: "uniform", clients: 64, profile: "rowlocks", latencyMs: 0 },
        { scenario: "uniform", clients: 64, profile: "rowlocks", latencyMs: 2 },
      ]
    : [
        { scenario: "uniform", clients: 64, profile: "rowlocks", latencyMs: null },
        ...LATENCIES_MS.map((latencyMs) => ({ scenario: "uniform" as const, clients: 64, profile: "rowlocks" as const, latencyMs })),
        ...[0, 2].map((latencyMs) => ({ scenario: "contended" as const, clients: 64, profile: "rowlocks" as const, latencyMs })),
        ...[0, 2].map((latencyMs) => ({ scenario: "uniform" as const, clients: 1, profile: "rowlocks" as const, latencyMs })),
        { scenario: "uniform", clients: 64, profile: "default", latencyMs: 2 },
      ];
  return points.flatMap((p) => (["glue", "herald"] as const).map((comparator) => ({ ...p, comparator })));
}

/** Herald's worker processes beside one process: `--processes auto` at uniform C=64, in full and quick runs. */
export const PROCESSES_RUN: RunSpec = { scenario: "uniform", clients: 64, comparator: "herald", processes: "auto" };

export function runsOf(plan: BenchPlan): RunSpec[] {
  const runs: RunSpec[] = [];
  const processes = plan.mode !== "custom" && plan.comparators.includes("herald") ? [PROCESSES_RUN] : [];
  for (const scenario of plan.scenarios) {
    if (scenario === "overload") {
      if (plan.comparators.includes("herald")) runs.push({ scenario, clients: OVERLOAD_CLIENTS, comparator: "herald" });
      continue;
    }
    if (scenario === "deposit") {
      if (plan.comparators.includes("herald")) runs.push({ scenario, clients: DEPOSIT_CLIENTS, comparator: "herald" });
      continue;
    }
    for (const clients of plan.clients) for (const comparator of plan.comparators) runs.push({ scenario, clients, comparator });
  }
  // A custom --processes applies to every Herald run.
  if (plan.processes !== undefined) {
    return [...runs, ...plan.latency].map((r) => (r.comparator === "herald" ? { ...r, processes: plan.processes } : r));
  }
  return [...runs, ...processes, ...plan.latency];
}
