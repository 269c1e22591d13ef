import type { Kysely } from "kysely";
import { findSqlState } from "../../src/db/sqlstate.js";
import { transact } from "../../src/db/transact.js";
import type { BatchResult, LayoutDriver } from "./layout-driver.js";
import type { SyntheticBatch } from "./workload.js";

/**
 * More attempts and time than Herald's defaults (20, 10 s): keys read first in
 * every batch fail serialization often enough on PostgreSQL that a batch can
 * lose 20 times in a row; the bench measures that cost instead of giving up.
 */
const POLICY = { maxAttempts: 500, deadlineMs: 300_000 };

/** PostgreSQL's and CockroachDB's unique_violation. */
const UNIQUE_VIOLATION = "23505";

/**
 * Commits one batch through `driver`, retrying serialization failures as
 * Herald does; a unique violation (a key already stored, found by an INSERT
 * without ON CONFLICT) runs the batch again with its keys read first.
 * `onRetry` counts every attempt that did not commit.
 */
export async function commitBatch(db: Kysely<any>, driver: LayoutDriver, batch: SyntheticBatch, onRetry: () => void): Promise<BatchResult> {
  let readKeys = false;
  for (;;) {
    try {
      const { value } = await transact(db, (tx, attempt) => driver.commit(tx, batch, readKeys || attempt > 1), { policy: POLICY, onRetry });
      return value;
    } catch (err) {
      if (readKeys || findSqlState(err) !== UNIQUE_VIOLATION) throw err;
      readKeys = true;
      onRetry();
    }
  }
}
