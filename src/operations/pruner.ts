import type { Kysely } from "kysely";
import type { HeraldTables } from "../db/schema.js";
import { silentLogger, type Logger } from "../telemetry/logger.js";
import { pruneExpired, type PruneReport, type PruneTarget } from "./prune.js";

/** How a worker prunes on its own. */
export interface PrunerSettings {
  /** Time between two runs in ms (the first comes after a random part of it). Default 600000 (10 min). */
  intervalMs?: number;
  /** Rows per DELETE. Default 500. */
  batchSize?: number;
  /** Hours a published event is kept. Default 168. */
  eventRetentionHours?: number;
  /** Hours an inbox row is kept. Default 720. */
  inboxRetentionHours?: number;
  /** Hours a dead letter is kept. Default 720. */
  deadLetterRetentionHours?: number;
  /** Hours a recorded operator action is kept. Default 8760. */
  operatorActionRetentionHours?: number;
}

export interface PrunerOptions extends PrunerSettings {
  /** Database to prune. Required. */
  db: Kysely<HeraldTables>;
  /** The worker's domain: it prunes only its own rows. Default: every domain (the console's operator log). */
  domain?: string;
  /** Only this consumer's inbox rows and dead letters (a consumer's own pruner). Default: every consumer. */
  consumer?: string;
  /** What to prune. Default `["commands", "events"]` (a worker's share; `consume()` prunes the inbox and dead letters). */
  targets?: readonly PruneTarget[];
  /** Default: silent. */
  logger?: Logger;
}

/** A background prune loop. */
export interface Pruner {
  /** One prune now (runs never overlap). */
  runOnce(): Promise<PruneReport>;
  /** Stops the timer, interrupts a run between batches, waits for it. */
  stop(): Promise<void>;
}

const WORKER_TARGETS: readonly PruneTarget[] = ["commands", "events"];

/** Prunes a domain's expired rows every `intervalMs`; the timer never keeps the process alive. */
export function startPruner(options: PrunerOptions): Pruner {
  const intervalMs = options.intervalMs ?? 600_000;
  const logger = options.logger ?? silentLogger;
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<PruneReport | undefined> = Promise.resolve(undefined);

  const runOnce = (): Promise<PruneReport> => {
    const run = current.catch(() => undefined).then(() =>
      pruneExpired({
        db: options.db,
        domain: options.domain,
        consumer: options.consumer,
        targets: options.targets ?? WORKER_TARGETS,
        batchSize: options.batchSize,
        eventRetentionHours: options.eventRetentionHours,
        inboxRetentionHours: options.inboxRetentionHours,
        deadLetterRetentionHours: options.deadLetterRetentionHours,
        operatorActionRetentionHours: options.operatorActionRetentionHours,
        signal: abort.signal,
      }),
    );
    current = run;
    return run;
  };

  const schedule = (delay: number) => {
    if (abort.signal.aborted) return;
    timer = setTimeout(() => {
      runOnce()
        .then((r) => (r.events || r.commands || r.inbox || r.deadLetters || r.operatorActions) && logger.info({ domain: options.domain, consumer: options.consumer, ...r }, "pruned rows past retention"))
        .catch((err) => logger.warn({ err: (err as Error).message }, "prune failed; retrying next round"))
        .finally(() => schedule(intervalMs));
    }, delay);
    timer.unref();
  };
  // Jitter the first run so a fleet of workers started together does not prune in lockstep.
  schedule(Math.floor(intervalMs / 2 + Math.random() * (intervalMs / 2)));

  return {
    runOnce,
    async stop() {
      abort.abort();
      clearTimeout(timer);
      await current.catch(() => undefined);
    },
  };
}
