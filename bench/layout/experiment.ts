import os from "node:os";
import { connectDatabase } from "../../src/db/connection.js";
import { migrateApp } from "../../src/db/migrate-app.js";
import { createBenchDatabase } from "../bench-database.js";
import { currentLayout } from "./current-layout.js";
import type { LayoutDriver } from "./layout-driver.js";
import type { MeasureEnv } from "./measure.js";
import { oneRowLayout, oneRowReadFirstLayout } from "./one-row-layout.js";
import type { LayoutOptions } from "./options.js";
import { probeDuplicates, runLayout, type Configuration, type DuplicateProbe, type LayoutRun } from "./run-layout.js";
import { accountsSchema, ONE_ROW_SCHEMA } from "./schema.js";
import { measureSideCosts, type SideCosts } from "./side-costs.js";
import { enableWalInspection, holdWal } from "./wal.js";

/** Everything one experiment measured, as bench/results/layout.json holds it. */
export interface LayoutResults {
  machine: { cores: number; cpu: string; server: string; date: string };
  options: LayoutOptions;
  /** Whether WAL could be told apart per database (pg_walinspect). */
  walInspection: boolean;
  configurations: Array<{ configuration: Configuration; runs: LayoutRun[] }>;
  duplicates: DuplicateProbe[];
  sideCosts: SideCosts[];
}

/** Every layout, in the order the even rounds run them (odd rounds run them backwards). */
const DRIVERS: readonly LayoutDriver[] = [currentLayout, oneRowLayout, oneRowReadFirstLayout];

/** Announces progress (the CLI prints it; tests stay quiet). */
export type Progress = (line: string) => void;

/** A fresh database with Herald's real tables (its migrations), the candidate table and the accounts. */
async function prepare(adminUrl: string, connections: number): Promise<{ env: MeasureEnv; drop: () => Promise<void> }> {
  const db = await createBenchDatabase(adminUrl);
  try {
    const herald = await connectDatabase<any>({ url: db.url, poolMax: 1 });
    try {
      await migrateApp(herald.db);
    } finally {
      await herald.destroy();
    }
    // One session, ended after: ending it publishes its statistics at once, so the seed's rows never show up late in a run.
    const client = await db.pool.connect();
    try {
      for (const statement of [...ONE_ROW_SCHEMA, ...accountsSchema(connections, db.dialect)]) await client.query(statement);
    } finally {
      client.release(true);
    }
    const walHold = (await enableWalInspection(db.pool)) ? await holdWal(db.url, db.name) : undefined;
    const env: MeasureEnv = { db, walInspection: walHold !== undefined, walHold };
    return {
      env,
      drop: async () => {
        await walHold?.release();
        await db.drop();
      },
    };
  } catch (err) {
    await db.drop().catch(() => undefined);
    throw err;
  }
}

/**
 * Runs every configuration through every layout, forwards in even rounds and
 * backwards in odd ones so drift of the machine touches both, then checks
 * duplicate detection and measures trace, replay and prune on each layout's rows.
 */
export async function runLayoutExperiment(adminUrl: string, options: LayoutOptions, progress: Progress = () => undefined): Promise<LayoutResults> {
  const { env, drop } = await prepare(adminUrl, options.connections);
  try {
    const configurations: LayoutResults["configurations"] = [];
    for (const configuration of options.configurations) {
      const runs: LayoutRun[] = [];
      for (let round = 0; round < options.rounds; round++) {
        const order: readonly LayoutDriver[] = round % 2 === 0 ? DRIVERS : [...DRIVERS].reverse();
        for (const driver of order) {
          const run = await runLayout(env, driver, configuration, { commands: options.commands, connections: options.connections, round });
          progress(`N=${configuration.batchSize} events=${configuration.eventsPerCommand} round ${round + 1} ${driver.name}: ${run.commands} commands, ` +
            `${(run.commit.wallMs + run.publish.wallMs).toFixed(0)} ms, retries ${run.commit.retries}`);
          runs.push(run);
        }
      }
      configurations.push({ configuration, runs });
    }
    const last = options.configurations[options.configurations.length - 1]!;
    const duplicates: DuplicateProbe[] = [];
    for (const driver of DRIVERS) duplicates.push(await probeDuplicates(env, driver, 4, last.eventsPerCommand));
    // The two one-row forms share their table and reads: measured once.
    const sideCosts: SideCosts[] = [];
    for (const driver of [currentLayout, oneRowLayout]) sideCosts.push(await measureSideCosts(env, driver, options.traces));
    const { rows } = await env.db.pool.query<{ v: string }>("SELECT version() AS v");
    return {
      machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model ?? "unknown", server: rows[0]!.v.split(" on ")[0]!, date: new Date().toISOString() },
      options,
      walInspection: env.walInspection,
      configurations,
      duplicates,
      sideCosts,
    };
  } finally {
    await drop();
  }
}
