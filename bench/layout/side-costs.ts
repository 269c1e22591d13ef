import { openMeasuredConnection } from "./connections.js";
import type { LayoutDriver, LayoutName } from "./layout-driver.js";
import { LAYOUT_READS } from "./layout-reads.js";
import { measurePhase, type MeasureEnv, type PhaseMeasurement } from "./measure.js";
import { LAYOUT_DOMAIN } from "./workload.js";

/** What trace, replay and retention cost on one layout's stored rows. */
export interface SideCosts {
  layout: LayoutName;
  /** Per command traced. */
  trace: PhaseMeasurement;
  /** Per event replayed. */
  replay: PhaseMeasurement;
  /** Per command deleted (with its events). */
  prune: PhaseMeasurement;
}

/** Rows per DELETE, as `herald prune` deletes by default. */
const PRUNE_BATCH = 500;

/**
 * Measures (prune after a checkpoint: it runs days after the rows were written), on one connection each, reading `traces` commands with their
 * events, replaying every event, and pruning every command (all past a cutoff
 * a year ahead), on the rows the layout's last run left.
 */
export async function measureSideCosts(env: MeasureEnv, driver: LayoutDriver, traces: number): Promise<SideCosts> {
  const reads = LAYOUT_READS[driver.name];
  const { rows } = await env.db.pool.query<{ id: string }>(`SELECT id FROM ${driver.tables[0]} ORDER BY id LIMIT $1`, [traces]);
  const ids = rows.map((r) => r.id);

  const one = async () => [await openMeasuredConnection(env.db.url)];
  const trace = await measurePhase(env, one, async ([connection]) => {
    const db = connection!.database.db;
    for (const id of ids) await reads.trace(db, id);
    return { units: ids.length, retries: 0 };
  }, { checkpoint: false });

  const replay = await measurePhase(env, one, async ([connection]) => ({ units: await reads.replay(connection!.database.db, LAYOUT_DOMAIN), retries: 0 }), {
    checkpoint: false,
  });

  const cutoff = new Date(Date.now() + 365 * 24 * 3_600_000);
  const prune = await measurePhase(env, one, async ([connection]) => {
    let units = 0;
    for (;;) {
      const n = await reads.prune(connection!.database.db, cutoff, PRUNE_BATCH);
      units += n;
      if (n < PRUNE_BATCH) return { units, retries: 0 };
    }
  }, { checkpoint: true });
  return { layout: driver.name, trace, replay, prune };
}
