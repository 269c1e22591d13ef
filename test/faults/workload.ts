import { randomUUID } from "node:crypto";
import { transfer } from "../../examples/bank/index.js";
import { CommandRequestError } from "../../src/client/request-error.js";
import type { HeraldClient } from "../../src/client/client.js";

/** The final word on one transfer the workload sent. */
export interface OpOutcome {
  key: string;
  from: string;
  to: string;
  amount: number;
  /** committed / rejected: stored outcomes; `failed`: a definite error; `indeterminate`: never settled. */
  status: "committed" | "rejected" | "failed" | "indeterminate";
  commandId?: string;
  duplicate?: boolean;
  /** Times the workload itself re-sent the key after the client gave up. */
  resends: number;
  /** Client-level retries observed for this key. */
  clientRetries: number;
  code?: string;
  settledAt: number;
}

export interface WorkloadOptions {
  client: HeraldClient;
  accounts: string[];
  transfers: number;
  concurrency: number;
  /** How long one operation keeps re-sending its key before it counts as indeterminate, in ms. */
  opDeadlineMs: number;
  /** Retry counts, keyed by idempotency key, filled by the client's onRetry hook. */
  retriesByKey: Map<string, number>;
  /** Called after each settled operation with the number settled so far. */
  onProgress?: (settled: number) => void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Closed-loop transfers among a few accounts. Like a careful real client, an
 * operation that got no stored outcome is sent again with the same key until it
 * does (or its deadline passes), so every operation ends determinate if Herald
 * keeps its promises.
 */
export async function runTransfers(options: WorkloadOptions): Promise<OpOutcome[]> {
  const outcomes: OpOutcome[] = [];
  let next = 0;
  const n = options.accounts.length;
  const worker = async () => {
    for (let i = next++; i < options.transfers; i = next++) {
      const from = options.accounts[(i * 7) % n]!;
      const to = options.accounts[(i * 7 + 1 + (i % (n - 1))) % n]!;
      const amount = 1 + ((i * 13) % 50);
      const key = `fault-${randomUUID()}`;
      const deadline = Date.now() + options.opDeadlineMs;
      let resends = -1;
      let outcome: OpOutcome | undefined;
      while (!outcome) {
        resends++;
        try {
          const reply = await options.client.send(transfer, { from, to, amount }, { idempotencyKey: key });
          outcome = { key, from, to, amount, status: reply.status, commandId: reply.commandId, duplicate: reply.duplicate, resends, clientRetries: 0, settledAt: Date.now() };
        } catch (err) {
          if (!(err instanceof CommandRequestError)) throw err;
          if (!err.retryable) {
            outcome = { key, from, to, amount, status: "failed", code: err.code, resends, clientRetries: 0, settledAt: Date.now() };
          } else if (Date.now() > deadline) {
            outcome = { key, from, to, amount, status: "indeterminate", code: err.code, resends, clientRetries: 0, settledAt: Date.now() };
          } else {
            await sleep(100);
          }
        }
      }
      outcome.clientRetries = options.retriesByKey.get(key) ?? 0;
      outcomes.push(outcome);
      options.onProgress?.(outcomes.length);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return outcomes;
}
