import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { childEnvironment } from "../src/config.js";
import type { BenchDatabase } from "./bench-database.js";
import { jsonLine, spawnChild, type Child } from "./child.js";
import { onCleanup } from "./cleanup.js";
import { compileTargets, targetScript } from "./compile.js";
import type { Comparator, RunSpec } from "./options.js";
import { CLI, POOL_SIZE, RESULTS_DIR } from "./settings.js";

/** A running system under test: one child process answering `<domain>.cmd.transfer`. */
export interface Target {
  readonly comparator: Comparator;
  readonly domain: string;
  readonly child: Child;
  /** Its JetStream stream (none for the ceiling). */
  readonly stream: string | undefined;
  /** Graceful stop; returns the counters a bench-written target prints when it stops. */
  stop(): Promise<{ exitCode: number | null; stats: Record<string, number> | undefined }>;
  /** Deletes the stream; safe to call twice. */
  deleteStream(): Promise<void>;
}

export interface TargetContext {
  db: BenchDatabase;
  natsUrl: string;
  nc: NatsConnection;
  /** The database URL the worker uses (through the delaying proxy); default: db.url. */
  workerDbUrl?: string;
}

const READY_TIMEOUT_MS = 30_000;
/** Above Herald's 15 s shutdown budget: a slow stop is reported, not mistaken for a hang. */
const STOP_TIMEOUT_MS = 20_000;

export const streamOf = (domain: string): string => `${domain.toUpperCase()}_EVENTS`;

async function streamCleanup(nc: NatsConnection, stream: string): Promise<() => Promise<void>> {
  const jsm = await jetstreamManager(nc);
  return onCleanup(`delete stream ${stream}`, () => jsm.streams.delete(stream).catch(() => false));
}

/** Where `--profile` writes the CPU profiles of Herald's workers (git-ignored). */
export const PROFILES_DIR = join(RESULTS_DIR, "profiles");

/** NODE_OPTIONS of a target: the statement counter (instrument/statement-counter.ts) in every target that talks to the database. */
function nodeOptions(comparator: Comparator): string | undefined {
  const options = process.env.NODE_OPTIONS ? [process.env.NODE_OPTIONS] : [];
  if (comparator !== "ceiling") options.push(`--import=${pathToFileURL(targetScript("instrument/statement-counter.js")).href}`);
  return options.length ? options.join(" ") : undefined;
}

/**
 * Node flags that write a CPU profile of each Herald process when it exits,
 * into a folder named after the run (node refuses --cpu-prof in NODE_OPTIONS;
 * a supervisor's workers inherit its flags).
 */
function profileFlags(domain: string, run: RunSpec): string[] {
  const latency = run.latencyMs === undefined || run.latencyMs === null ? undefined : `${run.latencyMs}ms`;
  const where = [run.scenario, `c${run.clients}`, run.profile, latency, run.processes === undefined ? undefined : `p${run.processes}`, domain];
  const dir = join(PROFILES_DIR, where.filter((w) => w !== undefined).join("-"));
  mkdirSync(dir, { recursive: true });
  return ["--cpu-prof", `--cpu-prof-dir=${dir}`];
}

/** Starts one comparator under a fresh domain and waits until it answers. */
export async function startTarget(comparator: Comparator, domain: string, ctx: TargetContext, options: { profile?: RunSpec; processes?: RunSpec["processes"] } = {}): Promise<Target> {
  // Cheap when up to date; rebuilds what a clean-up elsewhere may have removed.
  await compileTargets();
  const NODE_OPTIONS = nodeOptions(comparator);
  let child: Child;
  // Registered before anything can fail, so a stream is never left behind.
  const stream = comparator === "ceiling" ? undefined : streamOf(domain);
  const deleteStream = stream ? await streamCleanup(ctx.nc, stream) : async () => undefined;
  if (comparator === "herald") {
    // Exactly as users run it; pool size pinned so Herald and the glue get the same.
    child = spawnChild(
      [...(options.profile ? profileFlags(domain, options.profile) : []), CLI, "start", "--domain", domain, ...(options.processes === undefined ? [] : ["--processes", String(options.processes)])],
      childEnvironment({
        NODE_OPTIONS,
        DATABASE_URL: ctx.workerDbUrl ?? ctx.db.url,
        NATS_URL: ctx.natsUrl,
        HERALD_DB_POOL_MAX: String(POOL_SIZE),
        HERALD_DOMAIN: undefined,
        HERALD_STREAM: undefined,
        LOG_LEVEL: "warn",
      }),
    );
    await child.waitForLine((l) => (l.startsWith("herald worker ready") ? true : undefined), READY_TIMEOUT_MS, "herald start");
  } else {
    const config: Record<string, unknown> = { natsUrl: ctx.natsUrl, domain };
    if (comparator === "glue") {
      // The glue's stream is made like Herald's: file storage, 2-minute duplicate window.
      const jsm = await jetstreamManager(ctx.nc);
      await jsm.streams.add({ name: stream!, subjects: [`${domain}.evt.>`], duplicate_window: 120_000 * 1_000_000, num_replicas: 1 });
      Object.assign(config, { databaseUrl: ctx.workerDbUrl ?? ctx.db.url, poolSize: POOL_SIZE });
    }
    const script = targetScript(comparator === "glue" ? "glue/main.js" : "ceiling/responder.js");
    child = spawnChild([script], childEnvironment({ NODE_OPTIONS }), `${JSON.stringify(config)}\n`);
    await child.waitForLine(jsonLine("ready"), READY_TIMEOUT_MS, `${comparator} start`);
  }
  return {
    comparator,
    domain,
    child,
    stream,
    deleteStream,
    async stop() {
      const stopped = comparator === "herald" ? Promise.resolve(undefined) : child.waitForLine(jsonLine<Record<string, number>>("stopped"), STOP_TIMEOUT_MS, `${comparator} stop`).catch(() => undefined);
      const exitCode = await child.stop(STOP_TIMEOUT_MS);
      return { exitCode, stats: await stopped };
    },
  };
}
