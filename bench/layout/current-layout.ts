import { sql, type Kysely, type Transaction } from "kysely";
import type { HeraldTables } from "../../src/db/schema.js";
import { claimKeys, completeCommandsAndCommit, findCommands } from "../../src/idempotency/batch-store.js";
import { markPublished } from "../../src/outbox/store.js";
import { businessWrite } from "./business-write.js";
import type { BatchResult, LayoutDriver } from "./layout-driver.js";
import type { SyntheticBatch } from "./workload.js";

/**
 * Herald's layout as the pipeline writes it, through its own statements: the
 * key claim, the business write, then the outcome upsert with the outbox rows
 * and COMMIT in one message.
 */
async function commit(tx: Transaction<HeraldTables>, batch: SyntheticBatch): Promise<BatchResult> {
  const claimed = await claimKeys(tx, batch.commands.map((c) => c.claim));
  const fresh = batch.commands.filter((c) => claimed.has(c.claim.id));
  const duplicates = batch.commands.filter((c) => !claimed.has(c.claim.id));
  // A key already stored is replayed from its row, as the pipeline does.
  await findCommands(tx, batch.commands[0]!.claim.domain, duplicates.map((c) => c.claim.idempotencyKey));
  await businessWrite(tx, fresh.map((c) => c.account));
  await completeCommandsAndCommit(tx, fresh.map((c) => c.outcome), fresh.flatMap((c) => c.events));
  return { stored: fresh.map((c) => c.claim.id), duplicates: duplicates.length };
}

/** Reads the batch's unpublished events as the relay would publish them, then records their PubAcks. */
async function publish(db: Kysely<HeraldTables>, commandIds: readonly string[], nextSeq: () => number): Promise<number> {
  if (commandIds.length === 0) return 0;
  const { rows } = await sql<{ id: string }>`
    SELECT id, command_id, subject, type, position, data, headers
      FROM herald_outbox
     WHERE command_id = ANY(${commandIds}::UUID[]) AND published_at IS NULL
     ORDER BY command_id, position`.execute(db);
  await markPublished(db, rows.map((r) => ({ id: r.id, seq: nextSeq() })));
  return rows.length;
}

export const currentLayout: LayoutDriver = {
  name: "current",
  tables: ["herald_commands", "herald_outbox"],
  commit: (tx, batch) => commit(tx as Transaction<HeraldTables>, batch),
  publish: (db, ids, nextSeq) => publish(db as Kysely<HeraldTables>, ids, nextSeq),
};
