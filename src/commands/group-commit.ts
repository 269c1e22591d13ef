import { context } from "@opentelemetry/api";
import type { Kysely } from "kysely";
import { AmbiguousCommitError, CommandError } from "../errors.js";
import type { HeraldTables } from "../db/schema.js";
import { classifyError } from "../db/sqlstate.js";
import { transact } from "../db/transact.js";
import type { Logger } from "../telemetry/logger.js";
import type { AdaptiveLimit } from "./adaptive-limit.js";
import { BatchItemFailed, runBatchAttempt, type AttemptOutcome, type BatchDeps, type PendingCommand } from "./batch-attempt.js";
import { createBatcher } from "./batcher.js";
import { DeadlineExpiredError } from "./command-deadline.js";
import type { DispatchStats } from "./dispatch-stats.js";
import { createThroughputClimber } from "./throughput-climber.js";
import { createTransactionCap } from "./transaction-cap.js";
import { loggableError } from "../telemetry/log-error.js";

/** What a settled command comes to, in the dispatcher's terms. */
export interface GroupCommitDeps<R> extends BatchDeps {
  db: Kysely<HeraldTables>;
  /** Most commands per transaction. */
  maxBatchSize: number;
  /** Most request-body bytes per transaction (a larger command goes alone). */
  maxBatchBytes: number;
  /** Most transactions at once (the cap adapts down to one under conflicts). */
  maxTransactions: number;
  /** Shared with lone commands' attempts, so together they never exceed the pool. */
  limit: AdaptiveLimit;
  stats: DispatchStats;
  logger: Logger;
  settle(outcome: AttemptOutcome, attempts: number): R;
  fail(err: CommandError): R;
  /** A command on its own, with its retries: where every command can fall back to. */
  runSingle(pending: PendingCommand): Promise<R>;
  /** After an ambiguous COMMIT: the stored outcome of this command, or undefined when it did not commit. */
  resolveAmbiguous(pending: PendingCommand): Promise<AttemptOutcome | undefined>;
}

/**
 * How often a command goes back into the queue after its batch conflicted,
 * before it runs alone. Requeued commands wait for a slot under the shrunken
 * cap, so a retried batch rarely meets a rival; commands run alone after a
 * conflict would all run at once and fight over the same rows.
 */
const BATCH_RETRIES = 3;

type Queued<R> = { pending: PendingCommand; resolve: (result: R) => void; conflicts: number };

/**
 * Group commit: commands that queue up while a transaction runs share the next
 * one (see createBatcher and runBatchAttempt). A batch that conflicts commits
 * nothing; its commands go back to the head of the queue, to be batched again
 * when fewer transactions run side by side, and after a few conflicts run alone.
 */
export function createGroupCommit<R>(deps: GroupCommitDeps<R>): { submit(pending: PendingCommand): Promise<R> } {
  const { stats, logger } = deps;
  const cap = createTransactionCap({ max: deps.maxTransactions });
  const climber = createThroughputClimber({ max: deps.maxTransactions });

  /**
   * Ends the work of a command answered at its deadline: its submit promise
   * settles (the dispatcher ignores the value), so nothing waits on it.
   */
  const drop = (q: Queued<R>) => q.resolve(deps.fail(new CommandError("unavailable", "the command's deadline passed")));

  /** Commands not answered yet: one answered at its deadline is dropped wherever it waits. */
  const live = (items: Array<Queued<R>>) =>
    items.filter((q) => {
      if (!q.pending.deadline.expired) return true;
      drop(q);
      return false;
    });

  const runOne = async (q: Queued<R>): Promise<void> => {
    if (q.pending.deadline.expired) return drop(q);
    return context
      .with(q.pending.context, () => deps.runSingle(q.pending))
      .catch((err) => deps.fail(new CommandError("internal", "internal error", { cause: err })))
      .then(q.resolve);
  };

  /** What is left of a batch after its attempt: commands to run alone, and commands to batch again. */
  type Leftover = { alone: Array<Queued<R>>; again: Array<Queued<R>> };

  /** One transaction attempt for the batch. */
  async function runBatch(items: Array<Queued<R>>): Promise<Leftover> {
    try {
      const { value } = await transact(deps.db, (tx) => runBatchAttempt(tx, items.map((q) => q.pending), deps), { policy: { maxAttempts: 1 } });
      deps.limit.succeeded();
      cap.committed();
      stats.batches++;
      const alone: Array<Queued<R>> = [];
      value.forEach((r, i) => {
        const q = items[i]!;
        if ("outcome" in r) q.resolve(deps.settle(r.outcome, 1));
        else if ("error" in r) q.resolve(deps.fail(r.error));
        else alone.push(q);
      });
      return { alone, again: [] };
    } catch (err) {
      if (err instanceof DeadlineExpiredError) return { alone: [], again: live(items) };
      if (err instanceof AmbiguousCommitError) return { alone: await resolveAmbiguous(items), again: [] };
      if (err instanceof BatchItemFailed) {
        const culprits = new Set(err.indices.map((i) => items[i]!));
        return { alone: [...culprits], again: items.filter((q) => !culprits.has(q)) };
      }
      // A conflict or a broken connection: nothing committed. Only a conflict
      // says that fewer transactions side by side would do better.
      if (classifyError(err) === "retry") {
        deps.limit.conflicted();
        cap.conflicted();
      }
      stats.retries++;
      logger.debug({ size: items.length, cap: cap.current, error: loggableError(err) }, "batch failed");
      return afterConflict(items);
    }
  }

  /** Commands answered at their deadline drop out; the rest go back to the queue a few times, then run alone. */
  function afterConflict(items: Array<Queued<R>>): Leftover {
    const left = live(items);
    const again = left.filter((q) => q.conflicts++ < BATCH_RETRIES);
    return { again, alone: left.filter((q) => !again.includes(q)) };
  }

  async function resolveAmbiguous(items: Array<Queued<R>>): Promise<Array<Queued<R>>> {
    const alone: Array<Queued<R>> = [];
    for (const q of items) {
      // Answered `unknown_outcome` at its deadline: its retry learns the outcome from the key.
      if (q.pending.deadline.expired) {
        drop(q);
        continue;
      }
      try {
        const resolved = await deps.resolveAmbiguous(q.pending);
        if (resolved) q.resolve(deps.settle(resolved, 1));
        else {
          q.pending.deadline.leaveCommit(false);
          alone.push(q);
        }
      } catch {
        alone.push(q);
      }
    }
    return alone;
  }

  const batcher = createBatcher<Queued<R>>({
    maxBatch: deps.maxBatchSize,
    maxBatchBytes: deps.maxBatchBytes,
    sizeOf: (q) => q.pending.bodyBytes,
    // The conflict-driven cap bounds how many run; below it, the climber's measured best.
    maxRunning: () => climber.current(cap.current),
    onFull: () => climber.waited(),
    keyOf: (q) => q.pending.parsed.idempotencyKey,
    async run(taken) {
      const items = live(taken);
      if (items.length <= 1) {
        if (items.length === 1) await runOne(items[0]!);
        return climber.finished(items.length);
      }
      // Commands answered while the batch waited for a slot are left out of it.
      const { alone, again } = await deps.limit.run(() => runBatch(live(items))).catch(() => afterConflict(items));
      batcher.requeue(again);
      await Promise.all(alone.map(runOne));
      climber.finished(items.length - again.length);
    },
  });

  function submit(pending: PendingCommand): Promise<R> {
    return new Promise<R>((resolve) => {
      const queued: Queued<R> = { pending, resolve, conflicts: 0 };
      // Answered at its deadline while still queued: it leaves the queue (which stays bounded by in-flight requests).
      pending.deadline.onExpire(() => batcher.remove(queued) && drop(queued));
      batcher.submit(queued);
    });
  }

  return { submit };
}
