import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { HeraldTables } from "../db/schema.js";
import { MAX_PAGE_SIZE } from "./command-list.js";

/** Actions an operator may take; each is recorded. */
export type OperatorActionName = "redrive" | "replay" | "prune";

/** One recorded action. */
export interface OperatorAction {
  id: string;
  at: Date;
  operator: string;
  action: string;
  domain: string;
  target: Record<string, unknown>;
  outcome: "done" | "failed";
  detail: string;
}

export interface RecordActionInput {
  operator: string;
  action: OperatorActionName;
  domain: string;
  target: Record<string, unknown>;
  outcome: "done" | "failed";
  detail: string;
}

/** Writes one action to herald_operator_actions (an autocommit insert). */
export async function recordOperatorAction(db: Kysely<HeraldTables>, input: RecordActionInput): Promise<string> {
  const id = randomUUID();
  await db
    .insertInto("herald_operator_actions")
    .values({
      id,
      operator: input.operator.slice(0, 200),
      action: input.action,
      domain: input.domain,
      target: JSON.stringify(input.target),
      outcome: input.outcome,
      detail: input.detail.slice(0, 2000),
    })
    .execute();
  return id;
}

/**
 * Runs an operator action and records it, whether it succeeded or failed,
 * with who and what. A failure is recorded and thrown again.
 */
export async function recordedAction<T>(
  db: Kysely<HeraldTables>,
  input: Omit<RecordActionInput, "outcome" | "detail">,
  run: () => Promise<T>,
  describe: (result: T) => string,
): Promise<T> {
  let result: T;
  try {
    result = await run();
  } catch (err) {
    await recordOperatorAction(db, { ...input, outcome: "failed", detail: (err as Error).message });
    throw err;
  }
  await recordOperatorAction(db, { ...input, outcome: "done", detail: describe(result) });
  return result;
}

/** The domain's newest recorded actions, newest first (1 to 100). */
export async function listOperatorActions(db: Kysely<HeraldTables>, domain: string, limit = 50): Promise<OperatorAction[]> {
  const rows = await db
    .selectFrom("herald_operator_actions")
    .selectAll()
    .where("domain", "=", domain)
    .orderBy("at", "desc")
    .limit(Math.min(Math.max(limit, 1), MAX_PAGE_SIZE))
    .execute();
  return rows.map((r) => ({ ...r, target: r.target as Record<string, unknown> }));
}
