import { commitBatch } from "./commit-batch.js";
import { openMeasuredConnection, type MeasuredConnection } from "./connections.js";
import type { LayoutDriver, LayoutName } from "./layout-driver.js";
import { measurePhase, type MeasureEnv, type PhaseMeasurement } from "./measure.js";
import { syntheticBatch, syntheticCommand, type SyntheticBatch } from "./workload.js";

/** One workload shape: commands per transaction and events per command. */
export interface Configuration {
  batchSize: number;
  eventsPerCommand: number;
}

/** One layout's run of a configuration: its transactions, then publishing their events. */
export interface LayoutRun {
  layout: LayoutName;
  round: number;
  commands: number;
  events: number;
  duplicates: number;
  commit: PhaseMeasurement;
  publish: PhaseMeasurement;
}

const openAll = (url: string, n: number): Promise<MeasuredConnection[]> => Promise.all(Array.from({ length: n }, () => openMeasuredConnection(url)));

/**
 * Runs `commands` commands of `configuration` through `driver` on
 * `connections` connections, each with its own accounts: first every batch's
 * transaction, then every batch's publication, each phase measured apart.
 * The layout's tables start empty, so every run starts from the same sizes.
 */
export async function runLayout(
  env: MeasureEnv,
  driver: LayoutDriver,
  configuration: Configuration,
  options: { commands: number; connections: number; round: number },
): Promise<LayoutRun> {
  const { batchSize, eventsPerCommand } = configuration;
  await env.db.pool.query(`TRUNCATE ${driver.tables.join(", ")}`);
  const perConnection = Math.max(1, Math.ceil(options.commands / options.connections / batchSize));
  const batches: SyntheticBatch[][] = Array.from({ length: options.connections }, (_, w) =>
    Array.from({ length: perConnection }, (_, b) => syntheticBatch(w, b * batchSize, batchSize, eventsPerCommand)),
  );
  const stored: string[][][] = batches.map(() => []);
  let duplicates = 0;
  let seq = 0;
  const nextSeq = () => ++seq;

  const commit = await measurePhase(env, () => openAll(env.db.url, options.connections), async (committing) => {
    let retries = 0;
    let units = 0;
    await Promise.all(
      batches.map(async (own, w) => {
        for (const batch of own) {
          const value = await commitBatch(committing[w]!.database.db, driver, batch, () => retries++);
          stored[w]!.push(value.stored);
          units += value.stored.length;
          duplicates += value.duplicates;
        }
      }),
    );
    return { units, retries };
  }, { checkpoint: true });

  // No checkpoint: publication follows its commit within milliseconds, so the pages it changes were already logged since the last one.
  // Planner statistics, as a database running a while has them (this server's autovacuum may be off):
  // without them the outbox's read plans a scan of the whole unpublished index, a cost Herald's relay never has.
  for (const table of driver.tables) await env.db.pool.query(`ANALYZE ${table}`);
  let events = 0;
  const publish = await measurePhase(env, () => openAll(env.db.url, options.connections), async (publishing) => {
    await Promise.all(
      stored.map(async (own, w) => {
        for (const ids of own) events += await driver.publish(publishing[w]!.database.db, ids, nextSeq);
      }),
    );
    return { units: commit.units, retries: 0 };
  }, { checkpoint: false });
  return { layout: driver.name, round: options.round, commands: commit.units, events, duplicates, commit, publish };
}

/** What a batch holding a key already stored did: the experiment's check that duplicates are detected, not written. */
export interface DuplicateProbe {
  layout: LayoutName;
  batchSize: number;
  /** Keys of the batch already stored (one). */
  alreadyStored: number;
  /** Commands the layout reported as duplicates. */
  reportedDuplicates: number;
  /** Commands it stored. */
  stored: number;
  /** Rows of the stored key's command after the batch (still one). */
  rowsUnderKey: number;
  measurement: PhaseMeasurement;
}

/** Runs one batch of `batchSize` commands, one of them under a key the layout already stores. */
export async function probeDuplicates(env: MeasureEnv, driver: LayoutDriver, batchSize: number, eventsPerCommand: number): Promise<DuplicateProbe> {
  const table = driver.tables[0]!;
  const { rows } = await env.db.pool.query<{ key: string; domain: string }>(`SELECT idempotency_key AS key, domain FROM ${table} LIMIT 1`);
  if (!rows[0]) throw new Error(`no stored command in ${table} to repeat`);
  const batch = syntheticBatch(0, 1_000_000, batchSize, eventsPerCommand);
  const repeated = syntheticCommand(0, 1_000_000 + batchSize, eventsPerCommand, rows[0].key);
  // First in the batch: an INSERT that meets it fails before inserting any row.
  batch.commands.splice(0, 1, repeated);
  let reportedDuplicates = 0;
  let stored = 0;
  const measurement = await measurePhase(env, () => openAll(env.db.url, 1), async ([connection]) => {
    let retries = 0;
    const value = await commitBatch(connection!.database.db, driver, batch, () => retries++);
    reportedDuplicates = value.duplicates;
    stored = value.stored.length;
    return { units: stored, retries };
  }, { checkpoint: false });
  const count = await env.db.pool.query<{ n: number }>(`SELECT count(*)::INT AS n FROM ${table} WHERE domain = $1 AND idempotency_key = $2`, [rows[0].domain, rows[0].key]);
  return { layout: driver.name, batchSize, alreadyStored: 1, reportedDuplicates, stored, rowsUnderKey: count.rows[0]!.n, measurement };
}
