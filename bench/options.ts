import { parseArgs } from "node:util";

/** The three things measured against each other, in the order they alternate. */
export const COMPARATORS = ["ceiling", "glue", "herald"] as const;
export type Comparator = (typeof COMPARATORS)[number];

/** Load shapes. `overload` is Herald only, far past its in-flight limit. */
export const SCENARIOS = ["uniform", "contended", "overload"] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** Accounts each scenario picks from: many (few conflicts) or a hot few (many conflicts). */
export const ACCOUNTS: Record<Scenario, number> = { uniform: 10_000, contended: 20, overload: 10_000 };
export const OVERLOAD_CLIENTS = 1024;

export interface BenchPlan {
  mode: "full" | "quick" | "custom";
  scenarios: Scenario[];
  clients: number[];
  comparators: Comparator[];
  durationS: number;
  warmupS: number;
  /** Write docs/performance.md from this run (full runs only unless asked). */
  writeDocs: boolean;
}

export const USAGE = `Usage: npm run bench [-- options]

  --quick                 C in {1, 64}, uniform + contended, 0.5 s warm-up + 2 s measured per run (< 1 min)
  --scenarios <list>      uniform,contended,overload (default: all three)
  --clients <list>        concurrent clients, e.g. 1,16,64,256 (default)
  --comparators <list>    ceiling,glue,herald (default: all, alternating)
  --duration <seconds>    measured seconds per run (default 10; quick 2)
  --warmup <seconds>      unmeasured seconds before each run (default 1; quick 0.5)
  --docs / --no-docs      write docs/performance.md (default: full runs only)
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
      docs: { type: "boolean" },
      "no-docs": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return undefined;
  const quick = values.quick === true;
  const scenarios = pick("scenario", list(values.scenarios), SCENARIOS) ?? (quick ? ["uniform", "contended"] : [...SCENARIOS]);
  const clients = list(values.clients)?.map((c) => {
    const n = Number(c);
    if (!Number.isInteger(n) || n < 1 || n > 4096) throw new Error(`--clients: "${c}" is not an integer from 1 to 4096`);
    return n;
  });
  const comparators = pick("comparator", list(values.comparators), COMPARATORS) ?? [...COMPARATORS];
  const custom = [values.scenarios, values.clients, values.comparators, values.duration, values.warmup].some((v) => v !== undefined);
  const mode = custom ? "custom" : quick ? "quick" : "full";
  return {
    mode,
    scenarios,
    clients: [...new Set(clients ?? (quick ? [1, 64] : [1, 16, 64, 256]))].sort((a, b) => a - b),
    comparators,
    durationS: positive("duration", values.duration, 600) ?? (quick ? 2 : 10),
    warmupS: positive("warmup", values.warmup, 60) ?? (quick ? 0.5 : 1),
    writeDocs: values["no-docs"] ? false : values.docs === true || mode === "full",
  };
}

/** Every run of the plan in execution order: per scenario and C, the comparators in turn. */
export interface RunSpec {
  scenario: Scenario;
  clients: number;
  comparator: Comparator;
}

export function runsOf(plan: BenchPlan): RunSpec[] {
  const runs: RunSpec[] = [];
  for (const scenario of plan.scenarios) {
    if (scenario === "overload") {
      if (plan.comparators.includes("herald")) runs.push({ scenario, clients: OVERLOAD_CLIENTS, comparator: "herald" });
      continue;
    }
    for (const clients of plan.clients) for (const comparator of plan.comparators) runs.push({ scenario, clients, comparator });
  }
  return runs;
}
