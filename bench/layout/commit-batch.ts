import type { Kysely } from "kysely";
import { findSqlState } from "../../src/db/sqlstate.js";
import { transact } from "../../src/db/transact.js";
import type { BatchResult, LayoutDriver } from "./layout-driver.js";
import type { SyntheticBatch } from "./workload.js";

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
      const { value } = await transact(db, (tx, attempt) => driver.commit(tx, batch, readKeys || attempt > 1), { onRetry });
      return value;
    } catch (err) {
      if (readKeys || findSqlState(err) !== UNIQUE_VIOLATION) throw err;
      readKeys = true;
      onRetry();
    }
  }
}
