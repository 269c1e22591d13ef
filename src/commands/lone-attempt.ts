import { sql, type ControlledTransaction } from "kysely";
import { AmbiguousCommitError, CommandError } from "../errors.js";
import { classifyError, findSqlState } from "../db/sqlstate.js";
import type { HeraldTables } from "../db/schema.js";
import { recordCommandAndCommit } from "../idempotency/record-command.js";
import { findCommand, replayStored } from "../idempotency/store.js";
import type { OutboxEvent } from "../outbox/outbox-event.js";
import { buildEvents } from "../outbox/writer.js";
import type { StoredReply } from "../protocol/replies.js";
import type { AttemptOutcome, PendingCommand } from "./batch-attempt.js";
import { DeadlineExpiredError } from "./command-deadline.js";
import { isRejection, reject, type AnyCommand, type CommandContext } from "./define-command.js";

/** SQLSTATE of a duplicate key: the idempotency key was stored before. */
const UNIQUE_VIOLATION = "23505";

/** What one lone attempt needs besides its transaction and command. */
export interface LoneAttemptDeps {
  domain: string;
  retentionHours: number;
  handler<T>(command: string, subject: string, run: () => Promise<T>): Promise<T>;
}

/**
 * One attempt of a lone command. The savepoint goes out with BEGIN in one
 * message; the statement that stores the outcome claims the key and goes out
 * with COMMIT (see recordCommandAndCommit), so a command costs its handler's
 * statements plus two round trips.
 */
export async function runLoneAttempt(tx: ControlledTransaction<HeraldTables>, n: number, pending: PendingCommand, deps: LoneAttemptDeps): Promise<AttemptOutcome> {
  const { command, subject, parsed, origin, commandId, receivedAt, deadline } = pending;
  // Past a pool wait or a connect: a command already answered does nothing.
  if (deadline.expired) throw new DeadlineExpiredError();
  const { domain } = deps;
  const key = parsed.idempotencyKey;
  // A rejection, or a key stored before, must leave no trace of the handler's writes.
  await sql`SAVEPOINT herald_handler`.execute(tx);
  const ctx: CommandContext = { tx, domain, commandId, idempotencyKey: key, attempt: n, receivedAt, reject };
  let outcome: Awaited<ReturnType<AnyCommand["handle"]>>;
  try {
    outcome = await deps.handler(command.name, subject, () => command.handle(ctx, parsed.input));
  } catch (err) {
    // Re-running a stored command's handler may fail (its rows exist now): the stored answer wins.
    if (classifyError(err) !== "fatal") throw err;
    const stored = await storedAnswer(tx, domain, pending);
    if (stored) return stored;
    throw err;
  }
  const committedAt = new Date();
  let reply: StoredReply;
  let events: OutboxEvent[] = [];
  if (isRejection(outcome)) {
    await sql`ROLLBACK TO SAVEPOINT herald_handler`.execute(tx);
    reply = { status: "rejected", commandId, idempotencyKey: key, duplicate: false, error: { code: outcome.code, message: outcome.message } };
  } else {
    events = buildEvents(
      { domain, commandId, idempotencyKey: key, traceparent: origin.traceparent, tracestate: origin.tracestate },
      command.events,
      outcome.events ?? [],
      committedAt,
    );
    reply = {
      status: "committed",
      commandId,
      idempotencyKey: key,
      duplicate: false,
      result: outcome.result,
      events: events.map((e) => ({ id: e.id, subject: e.subject })),
      committedAt: committedAt.toISOString(),
    };
  }
  const claim = {
    id: commandId,
    domain,
    idempotencyKey: key,
    subject,
    command: command.name,
    payload: parsed.payload,
    fingerprint: parsed.fingerprint,
    receivedAt,
    attempt: n,
    traceId: origin.traceId,
    spanId: origin.spanId,
    retentionHours: deps.retentionHours,
  };
  // Answered at its deadline while the handler ran: it must not commit now.
  if (!deadline.enterCommit()) throw new DeadlineExpiredError();
  try {
    await recordCommandAndCommit(tx, { claim, reply, committedAt, events });
  } catch (err) {
    if (findSqlState(err) === UNIQUE_VIOLATION) {
      deadline.leaveCommit(false);
      const stored = await storedAnswer(tx, domain, pending);
      if (stored) return stored;
      throw new CommandError("internal", "the idempotency key is taken but nothing is stored under it", { cause: err });
    }
    if (classifyError(err) === "retry") {
      deadline.leaveCommit(false);
      throw err;
    }
    // COMMIT went out with the statement: a lost answer, 40003, or any error
    // the statement or COMMIT raised (a deferred constraint or trigger fails at
    // COMMIT, and on CockroachDB a non-retryable error from COMMIT may hide a
    // commit, as cockroach-go's ExecuteTx assumes): the key decides.
    throw new AmbiguousCommitError({ cause: err });
  }
  deadline.leaveCommit(true);
  return { reply, events, replayed: false };
}

/** The answer stored under the request's key, after undoing this attempt's writes; undefined when none is. */
async function storedAnswer(tx: ControlledTransaction<HeraldTables>, domain: string, pending: PendingCommand): Promise<AttemptOutcome | undefined> {
  await sql`ROLLBACK TO SAVEPOINT herald_handler`.execute(tx);
  const existing = await findCommand(tx, domain, pending.parsed.idempotencyKey);
  if (!existing) return undefined;
  return { reply: replayStored(existing, pending.subject, pending.parsed.fingerprint), events: [], replayed: true };
}
