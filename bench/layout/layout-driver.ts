import type { Kysely, Transaction } from "kysely";
import type { SyntheticBatch } from "./workload.js";

/** The layouts compared: Herald's, and one row per command with two ways of finding a key already stored. */
export const LAYOUT_NAMES = ["current", "one-row", "one-row-read-first"] as const;
export type LayoutName = (typeof LAYOUT_NAMES)[number];

/** The layouts measured against `current`. */
export type CandidateName = Exclude<LayoutName, "current">;
export const CANDIDATES: readonly CandidateName[] = ["one-row", "one-row-read-first"];

/** What a batch's transaction stored. */
export interface BatchResult {
  /** Ids of the commands it stored (the others' keys were already stored). */
  stored: string[];
  /** Commands whose key was already stored: replayed, not written again. */
  duplicates: number;
}

/** One layout's writes: a batch's transaction, and publishing a batch's events afterwards. */
export interface LayoutDriver {
  name: LayoutName;
  /** The layout's own tables, the command table first (emptied before each of its runs). */
  tables: readonly string[];
  /**
   * The batch's statements inside a SERIALIZABLE transaction; the last one
   * carries COMMIT when anything is stored. `readKeys`: an earlier attempt
   * found a key already stored, so look the batch's keys up first.
   */
  commit(tx: Transaction<any>, batch: SyntheticBatch, readKeys: boolean): Promise<BatchResult>;
  /** Reads the unpublished events of these commands and marks them published; returns events published. */
  publish(db: Kysely<any>, commandIds: readonly string[], nextSeq: () => number): Promise<number>;
}
