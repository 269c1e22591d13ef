import { context, type Context } from "@opentelemetry/api";
import type { Transaction } from "kysely";
import { AmbiguousCommitError, CommandError } from "../errors.js";
import { classifyError } from "../db/sqlstate.js";
import type { DialectName } from "../db/connection.js";
import type { HeraldTables } from "../db/schema.js";
import { claimKeys, completeCommandsAndCommit, findCommands, type BatchOutcome } from "../idempotency/batch-store.js";
import { replayStored, type CommandClaim } from "../idempotency/store.js";
import type { OutboxEvent } from "../outbox/outbox-event.js";
import { buildEvents } from "../outbox/writer.js";
import type { StoredReply } from "../protocol/replies.js";
import type { TraceOrigin } from "../telemetry/tracing.js";
import { isRejection, reject, type AnyCommand, type BatchContext, type CommandContext, type EventSchemas, type HandlerOutcome } from "./define-command.js";
import { WriteTracker } from "./write-tracker.js";
import type { ParsedRequest } from "./parse-request.js";
import { DeadlineExpiredError, enterCommitAll, leaveCommitAll, type CommandDeadline } from "./command-deadline.js";

/**
 * Longest a batch waits for a row lock (`SET LOCAL lock_timeout`), in ms, per
 * server. On PostgreSQL a batch that waits behind another's row lock gives up
 * quickly rather than wait for the deadlock detector (`deadlock_timeout`, 1 s).
 * CockroachDB has no deadlock timeout to wait out (a deadlock is found by the
 * pushes and one transaction aborted at once), but its lock_timeout also stops
 * non-locking reads that wait on another transaction's intents, and the holder
 * of an intent commits in one consensus round trip, often 100 ms or more when
 * its replicas span regions: 1 s lets a batch wait out a few such commits instead of timing out,
 * requeueing and ending up alone, and stays under the session's lock timeout
 * and the statement timeout (see docs/cockroachdb.md, S7).
 */
export const BATCH_LOCK_TIMEOUT_MS: Readonly<Record<DialectName, number>> = Object.freeze({ postgresql: 100, cockroachdb: 1000 });

/** A validated command waiting for its transaction. */
export interface PendingCommand {
  command: AnyCommand;
  subject: string;
  parsed: ParsedRequest;
  origin: TraceOrigin;
  commandId: string;
  receivedAt: Date;
  /** The caller's trace context, so the handler's span joins the command's trace. */
  context: Context;
  /** Size of the request's body, for group commit's byte bound. */
  bodyBytes: number;
  /** Its time budget from arrival; past it the command is answered and nothing commits for it. */
  deadline: CommandDeadline;
}

export type AttemptOutcome = { reply: StoredReply; events: OutboxEvent[]; replayed: boolean };

/** What one command of a batch came to: settled, refused, or to be run again on its own. */
export type BatchItemResult = { outcome: AttemptOutcome } | { error: CommandError } | { alone: true };

export interface BatchDeps {
  domain: string;
  retentionHours: number;
  /** `SET LOCAL lock_timeout` of every batch, in ms (see batchLockTimeoutMs). */
  lockTimeoutMs: number;
  handler<T>(command: string, subject: string, run: () => Promise<T>): Promise<T>;
}

/**
 * A command of a batch failed in a way its batch cannot absorb: its handler
 * threw, or rejected after writing. The batch commits nothing; that command
 * runs alone (where a savepoint undoes a rejection's writes), the others are
 * batched again, so no answer depends on a neighbour.
 */
export class BatchItemFailed extends Error {
  override readonly name = "BatchItemFailed";
  /** Positions of the commands in the batch (several when a set-based handler failed). */
  readonly indices: readonly number[];
  constructor(indices: number | readonly number[], options?: { cause?: unknown }) {
    const list = typeof indices === "number" ? [indices] : [...indices];
    super(`command(s) ${list.join(", ")} of the batch must run alone`, options);
    this.indices = list;
  }
}

/**
 * One transaction for many commands (group commit): one statement claims every
 * key, the handlers run one after the other (consecutive commands of a type
 * with a set-based handler in one call), then one statement writes the outbox
 * and stores the outcomes. No savepoint per command: a rejection that read but
 * did not write leaves nothing to undo, and any other failure throws
 * (BatchItemFailed, or the database error that doomed the transaction).
 */
export async function runBatchAttempt(tx: Transaction<HeraldTables>, items: readonly PendingCommand[], deps: BatchDeps): Promise<BatchItemResult[]> {
  // Past a pool wait or a connect: a batch whose commands were all answered meanwhile does nothing.
  if (items.every((i) => i.deadline.expired)) throw new DeadlineExpiredError();
  const claims = items.map(
    (i): CommandClaim => ({
      id: i.commandId,
      domain: deps.domain,
      idempotencyKey: i.parsed.idempotencyKey,
      subject: i.subject,
      command: i.command.name,
      payload: i.parsed.payload,
      fingerprint: i.parsed.fingerprint,
      receivedAt: i.receivedAt,
      attempt: 1,
      traceId: i.origin.traceId,
      spanId: i.origin.spanId,
      retentionHours: deps.retentionHours,
    }),
  );
  // BEGIN, the lock timeout and the claim in one message. A batch that waits on
  // another's row lock gives up quickly instead of waiting for the deadlock
  // detector (1 s on PostgreSQL): its commands go back to the queue.
  const claimed = await claimKeys(tx, claims, `SET LOCAL lock_timeout = '${Math.floor(deps.lockTimeoutMs)}ms'; `);
  const stored = await findCommands(tx, deps.domain, items.filter((i) => !claimed.has(i.commandId)).map((i) => i.parsed.idempotencyKey));
  const results: BatchItemResult[] = new Array<BatchItemResult>(items.length);
  const completed: BatchOutcome[] = [];
  /** The deadlines of the commands in `completed`, in the same order. */
  const deadlines: CommandDeadline[] = [];
  const events: OutboxEvent[] = [];
  const fresh: number[] = [];

  for (const [index, item] of items.entries()) {
    if (claimed.has(item.commandId)) {
      fresh.push(index);
      continue;
    }
    const row = stored.get(item.parsed.idempotencyKey);
    if (!row) {
      results[index] = { alone: true };
      continue;
    }
    try {
      results[index] = { outcome: { reply: replayStored(row, item.subject, item.parsed.fingerprint), events: [], replayed: true } };
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      results[index] = { error: err };
    }
  }

  /** Records a handler's outcome for the command at `index`. */
  const finish = (index: number, outcome: HandlerOutcome<unknown, EventSchemas>): void => {
    const item = items[index]!;
    const key = item.parsed.idempotencyKey;
    const committedAt = new Date();
    if (isRejection(outcome)) {
      const reply: StoredReply = { status: "rejected", commandId: item.commandId, idempotencyKey: key, duplicate: false, error: { code: outcome.code, message: outcome.message } };
      completed.push({ claim: claims[index]!, reply, committedAt });
      deadlines.push(item.deadline);
      results[index] = { outcome: { reply, events: [], replayed: false } };
      return;
    }
    let built: OutboxEvent[];
    try {
      built = buildEvents(
        { domain: deps.domain, commandId: item.commandId, idempotencyKey: key, traceparent: item.origin.traceparent, tracestate: item.origin.tracestate },
        item.command.events,
        outcome.events ?? [],
        committedAt,
      );
    } catch (err) {
      throw new BatchItemFailed(index, { cause: err });
    }
    const reply: StoredReply = {
      status: "committed",
      commandId: item.commandId,
      idempotencyKey: key,
      duplicate: false,
      result: outcome.result,
      events: built.map((e) => ({ id: e.id, subject: e.subject })),
      committedAt: committedAt.toISOString(),
    };
    events.push(...built);
    completed.push({ claim: claims[index]!, reply, committedAt });
    deadlines.push(item.deadline);
    results[index] = { outcome: { reply, events: built, replayed: false } };
  };

  /** One command through `handle`. */
  const runOne = async (index: number): Promise<void> => {
    const item = items[index]!;
    const tracker = new WriteTracker();
    const ctx: CommandContext = { tx: tx.withPlugin(tracker), domain: deps.domain, commandId: item.commandId, idempotencyKey: item.parsed.idempotencyKey, attempt: 1, receivedAt: item.receivedAt, reject };
    let outcome: HandlerOutcome<unknown, EventSchemas>;
    try {
      outcome = await context.with(item.context, () => deps.handler(item.command.name, item.subject, () => item.command.handle(ctx, item.parsed.input)));
    } catch (err) {
      if (classifyError(err) !== "fatal") throw err;
      throw new BatchItemFailed(index, { cause: err });
    }
    // A rejection's writes cannot be undone without undoing its neighbours': it goes alone.
    if (isRejection(outcome) && tracker.wrote) throw new BatchItemFailed(index);
    finish(index, outcome);
  };

  /** Consecutive commands of one command type with a set-based handler, in one call. */
  const runSet = async (indices: readonly number[]): Promise<void> => {
    const first = items[indices[0]!]!;
    const command = first.command;
    const ctx: BatchContext = {
      tx,
      domain: deps.domain,
      commands: indices.map((i) => ({ commandId: items[i]!.commandId, idempotencyKey: items[i]!.parsed.idempotencyKey, receivedAt: items[i]!.receivedAt })),
      reject,
    };
    let outcomes: ReadonlyArray<HandlerOutcome<unknown, EventSchemas>>;
    try {
      const inputs = indices.map((i) => items[i]!.parsed.input);
      outcomes = await context.with(first.context, () => deps.handler(command.name, first.subject, () => command.handleBatch!(ctx, inputs)));
    } catch (err) {
      if (classifyError(err) !== "fatal") throw err;
      throw new BatchItemFailed(indices, { cause: err });
    }
    if (!Array.isArray(outcomes) || outcomes.length !== indices.length) {
      throw new BatchItemFailed(indices, { cause: new TypeError(`${command.name}.handleBatch returned ${Array.isArray(outcomes) ? outcomes.length : "no"} outcomes for ${indices.length} inputs`) });
    }
    indices.forEach((index, k) => finish(index, outcomes[k]!));
  };

  // In arrival order; a run of the same command with a set-based handler goes in one call.
  for (let start = 0; start < fresh.length; ) {
    const command = items[fresh[start]!]!.command;
    let end = start + 1;
    if (command.handleBatch) while (end < fresh.length && items[fresh[end]!]!.command === command) end++;
    if (end - start > 1) await runSet(fresh.slice(start, end));
    else await runOne(fresh[start]!);
    start = end;
  }
  if (completed.length === 0) return results;
  // A command answered at its deadline must not commit now: the batch rolls back, the others go again.
  if (!enterCommitAll(deadlines)) throw new DeadlineExpiredError();
  try {
    await completeCommandsAndCommit(tx, completed, events);
  } catch (err) {
    // A conflict is definite: nothing committed. Anything else at the message
    // that holds COMMIT (a lost answer, 40003, a deferred constraint or trigger
    // failing at COMMIT) is resolved by re-reading the keys, as cockroach-go's
    // ExecuteTx treats every non-retryable error from COMMIT as ambiguous.
    if (classifyError(err) === "retry") {
      leaveCommitAll(deadlines, false);
      throw err;
    }
    throw new AmbiguousCommitError({ cause: err });
  }
  leaveCommitAll(deadlines, true);
  return results;
}
