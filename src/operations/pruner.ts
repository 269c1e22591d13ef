import type { Kysely } from "kysely";
import type { HeraldTables } from "../db/schema.js";
import { silentLogger, type Logger } from "../telemetry/logger.js";
import { pruneExpired, type PruneReport, type PruneTarget } from "./prune.js";

/** How a worker prunes on its own. */
export interface PrunerSettings {
  /** Time between two runs in ms (the first comes at a random point of it). Default 600000 (10 min). */
  intervalMs?: number;
  /** Rows per DELETE. Default 500. */
  batchSize?: number;
  /** Hours a published event is kept. Default 168. */
  eventRetentionHours?: number;
  /** Hours an inbox row is kept. Default 720. */
  inboxRetentionHours?: number;
  /** Hours a dead letter (or a reactor's recorded rejection) is kept. Default 720. */
  deadLetterRetentionHours?: number;
  /** Hours a recorded operator action is kept. Default 8760. */
  operatorActionRetentionHours?: number;
  /** Hours an identity issuance record is kept after it expired. Default 2160. */
  identityRetentionHours?: number;
}

export interface PrunerOptions extends PrunerSettings {
  /** Database to prune. Required. */
  db: Kysely<HeraldTables>;
  /** The worker's domain: it prunes only its own rows. Required; undefined means every domain (the identity issuer). */
  domain: string | undefined;
  /** Only this consumer's inbox rows and dead letters, or this reactor's rejections (their own pruner). Default: every consumer. */
  consumer?: string;
  /** What to prune. Default `["commands", "events"]` (a worker's share; `consume()` prunes the inbox and dead letters). */
  targets?: readonly PruneTarget[];
  /** Default: silent. */
  logger?: Logger;
  /** Where in the first interval the first run falls, as a number in [0, 1). Default Math.random. */
  random?: () => number;
}

/** A background prune loop. */
export interface Pruner {
  /** One prune now (runs never overlap). */
  runOnce(): Promise<PruneReport>;
  /** Stops the timer, interrupts a run between batches, waits for it. */
  stop(): Promise<void>;
}

const WORKER_TARGETS: readonly PruneTarget[] = ["commands", "events"];

/**
 * Delay of the first run: a uniformly random point of the interval, so a fleet
 * of workers started together neither prunes in lockstep nor waits a whole
 * interval before its first prune.
 */
export function firstRunDelayMs(intervalMs: number, random: () => number = Math.random): number {
  return Math.min(intervalMs, Math.max(0, Math.floor(random() * intervalMs)));
}

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
        identityRetentionHours: options.identityRetentionHours,
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
        .then((r) => (r.events || r.commands || r.inbox || r.deadLetters || r.issuances || r.operatorActions || r.reactorRejections) && logger.info({ domain: options.domain, consumer: options.consumer, ...r }, "pruned rows past retention"))
        .catch((err) => logger.warn({ err: (err as Error).message }, "prune failed; retrying next round"))
        .finally(() => schedule(intervalMs));
    }, delay);
    timer.unref();
  };
  schedule(firstRunDelayMs(intervalMs, options.random));

  return {
    runOnce,
    async stop() {
      abort.abort();
      clearTimeout(timer);
      await current.catch(() => undefined);
    },
  };
}
