import { randomUUID } from "node:crypto";
import { context } from "@opentelemetry/api";
import { sql, type ControlledTransaction, type Kysely } from "kysely";
import { AmbiguousCommitError, CommandError, exhaustedError, RetriesExhaustedError } from "../errors.js";
import type { DialectName } from "../db/connection.js";
import { classifyError, findSqlState, isConnectionError } from "../db/sqlstate.js";
import { DEFAULT_RETRY_POLICY, transact, type RetryPolicy, type TransactOptions } from "../db/transact.js";
import type { HeraldTables } from "../db/schema.js";
import { recordCommandAndCommit } from "../idempotency/record-command.js";
import { findCommand, replayStored } from "../idempotency/store.js";
import type { OutboxEvent } from "../outbox/outbox-event.js";
import { unpublishedEventsOf } from "../outbox/store.js";
import { buildEvents } from "../outbox/writer.js";
import type { ErrorReply, Reply, StoredReply } from "../protocol/replies.js";
import { createDispatchTelemetry } from "../telemetry/dispatch-telemetry.js";
import { silentLogger, type Logger } from "../telemetry/logger.js";
import { activeTraceOrigin, type TraceOrigin } from "../telemetry/tracing.js";
import { isRejection, reject, type AnyCommand, type CommandContext } from "./define-command.js";
import { emptyStats, type DispatchStats } from "./dispatch-stats.js";
import { parseRequest, type ParsedRequest } from "./parse-request.js";
import { createAdaptiveLimit } from "./adaptive-limit.js";
import type { AttemptOutcome, PendingCommand } from "./batch-attempt.js";
import { createGroupCommit } from "./group-commit.js";
import { createRegistry } from "./registry.js";
import { loggableError } from "../telemetry/log-error.js";

export interface DispatcherOptions {
  db: Kysely<HeraldTables>;
  domain: string;
  commands: readonly AnyCommand[];
  /** Largest accepted body in bytes. Default 65536. */
  maxPayloadBytes?: number;
  /** Hours a key is kept. Default 168 (7 days). */
  retentionHours?: number;
  /** Transaction retry policy. Defaults: see DEFAULT_RETRY_POLICY. */
  retry?: Partial<RetryPolicy>;
  /** Default: silent. */
  logger?: Logger;
  /** Wraps each transaction attempt, inside Herald's own attempt span. Default: none. */
  aroundAttempt?: TransactOptions["aroundAttempt"];
  /** Database behind `db`, reported as `db.system.name` on spans. Default `postgresql`. */
  dialect?: DialectName;
  /** Most transactions run at once; the limit adapts down under contention. Default 10 (the pool size). */
  maxConcurrentTransactions?: number;
  /** Most commands committed in one transaction when requests queue up (group commit); 1 turns it off. Default 64. */
  maxBatchSize?: number;
}

/** A command request as it came off the wire; transport-neutral. */
export interface IncomingCommand {
  /** Command name (last subject segment). */
  command: string;
  body: Uint8Array;
  idempotencyKey: string | undefined;
  traceparent?: string | undefined;
  tracestate?: string | undefined;
  /** Set when the transport could not read the request's headers; reported after the size check. */
  headerError?: CommandError | undefined;
}

export interface DispatchResult {
  reply: Reply;
  /** Committed events this call should publish now (empty for replays and errors). */
  events: OutboxEvent[];
  /** Transaction attempts used (0 when nothing reached the database). */
  attempts: number;
}

export interface Dispatcher {
  readonly domain: string;
  /** Validates, persists and answers one command. Never throws: failures become error replies. */
  dispatch(request: IncomingCommand): Promise<DispatchResult>;
  readonly stats: DispatchStats;
}


/** SQLSTATE of a duplicate key: the idempotency key was stored before. */
const UNIQUE_VIOLATION = "23505";

/** The maximum number of times one request re-runs after an ambiguous commit proved it did not commit. */
const AMBIGUOUS_RERUNS = 3;

export function errorReply(err: CommandError): ErrorReply {
  const error: ErrorReply["error"] = { code: err.code, message: err.message };
  if (err.details !== undefined) error.details = err.details;
  return { status: "error", error };
}

export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { db, domain } = options;
  const registry = createRegistry(domain, options.commands);
  const maxPayloadBytes = options.maxPayloadBytes ?? 64 * 1024;
  const retentionHours = options.retentionHours ?? 24 * 7;
  const logger = options.logger ?? silentLogger;
  const stats = emptyStats();
  const limit = createAdaptiveLimit({ max: options.maxConcurrentTransactions ?? 10 });
  const telemetry = createDispatchTelemetry({ domain, dialect: options.dialect ?? "postgresql" });
  const maxBatchSize = options.maxBatchSize ?? 64;
  const deadlineMs = options.retry?.deadlineMs ?? DEFAULT_RETRY_POLICY.deadlineMs;
  const groupCommit = createGroupCommit<DispatchResult>({
    db,
    domain,
    retentionHours,
    handler: telemetry.handler,
    maxBatchSize,
    maxTransactions: options.maxConcurrentTransactions ?? 10,
    deadlineMs,
    limit,
    stats,
    logger,
    settle: (outcome, attempts) => settle(outcome, attempts),
    fail: (err) => fail(err),
    runSingle: (pending) => runSingle(pending),
    resolveAmbiguous: (p) => resolveAmbiguous(p.subject, p.parsed, p.commandId),
  });

  const fail = (err: CommandError): DispatchResult => {
    stats.errors[err.code] = (stats.errors[err.code] ?? 0) + 1;
    return { reply: errorReply(err), events: [], attempts: 0 };
  };

  /**
   * One attempt of a lone command. The savepoint goes out with BEGIN in one
   * message; the statement that stores the outcome claims the key and goes out
   * with COMMIT (see recordCommandAndCommit), so a command costs its handler's
   * statements plus two round trips.
   */
  async function attempt(
    tx: ControlledTransaction<HeraldTables>,
    n: number,
    command: AnyCommand,
    origin: TraceOrigin,
    parsed: ParsedRequest,
    commandId: string,
    receivedAt: Date,
  ): Promise<AttemptOutcome> {
    const subject = registry.subjectOf(command);
    const key = parsed.idempotencyKey;
    // A rejection, or a key stored before, must leave no trace of the handler's writes.
    await sql`SAVEPOINT herald_handler`.execute(tx);
    const ctx: CommandContext = { tx, domain, commandId, idempotencyKey: key, attempt: n, receivedAt, reject };
    let outcome: Awaited<ReturnType<AnyCommand["handle"]>>;
    try {
      outcome = await telemetry.handler(command.name, subject, () => command.handle(ctx, parsed.input));
    } catch (err) {
      // Re-running a stored command's handler may fail (its rows exist now): the stored answer wins.
      if (classifyError(err) !== "fatal") throw err;
      const stored = await storedAnswer(tx, subject, parsed);
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
      retentionHours,
    };
    try {
      await recordCommandAndCommit(tx, { claim, reply, committedAt, events });
      return { reply, events, replayed: false };
    } catch (err) {
      if (findSqlState(err) === UNIQUE_VIOLATION) {
        const stored = await storedAnswer(tx, subject, parsed);
        if (stored) return stored;
        throw new CommandError("internal", "the idempotency key is taken but nothing is stored under it", { cause: err });
      }
      // The COMMIT went out with the statement: a lost answer leaves its outcome unknown.
      if (classifyError(err) === "ambiguous" || isConnectionError(err)) throw new AmbiguousCommitError({ cause: err });
      throw err;
    }
  }

  /** The answer stored under the request's key, after undoing this attempt's writes; undefined when none is. */
  async function storedAnswer(tx: ControlledTransaction<HeraldTables>, subject: string, parsed: ParsedRequest): Promise<AttemptOutcome | undefined> {
    await sql`ROLLBACK TO SAVEPOINT herald_handler`.execute(tx);
    const existing = await findCommand(tx, domain, parsed.idempotencyKey);
    if (!existing) return undefined;
    return { reply: replayStored(existing, subject, parsed.fingerprint), events: [], replayed: true };
  }

  /** After an ambiguous COMMIT: what is stored under the key decides the answer. */
  async function resolveAmbiguous(subject: string, parsed: ParsedRequest, commandId: string): Promise<AttemptOutcome | undefined> {
    stats.ambiguous++;
    const { value: existing } = await transact(db, (tx) => findCommand(tx, domain, parsed.idempotencyKey), { policy: options.retry });
    if (!existing) return undefined;
    const reply = replayStored(existing, subject, parsed.fingerprint);
    if (existing.id !== commandId) return { reply, events: [], replayed: true };
    return { reply: { ...reply, duplicate: false }, events: await unpublishedEventsOf(db, commandId), replayed: false };
  }

  async function dispatch(request: IncomingCommand): Promise<DispatchResult> {
    const command = registry.get(request.command);
    if (!command) return fail(new CommandError("unknown_command", `${domain} has no command "${request.command}"`));
    const subject = registry.subjectOf(command);
    let parsed: ParsedRequest;
    try {
      parsed = parseRequest(command, { subject, body: request.body, idempotencyKey: request.idempotencyKey, headerError: request.headerError }, maxPayloadBytes);
    } catch (err) {
      if (err instanceof CommandError) return fail(err);
      throw err;
    }
    const commandId = randomUUID();
    const receivedAt = new Date();
    // The process span's context (or the request's, untraced): stored with the command, carried by its events.
    const origin = activeTraceOrigin(request.traceparent, request.tracestate);
    const pending: PendingCommand = { command, subject, parsed, origin, commandId, receivedAt, context: context.active() };
    if (maxBatchSize < 2) return runSingle(pending);
    return groupCommit.submit(pending);
  }

  /** One command in its own transaction, retried on conflicts: the path every command can fall back to. */
  async function runSingle(pending: PendingCommand): Promise<DispatchResult> {
    const { command, subject, parsed, origin, commandId, receivedAt } = pending;
    const around = telemetry.aroundAttempt(command.name);
    const user = options.aroundAttempt;
    let attempts = 0;
    for (let rerun = 0; rerun <= AMBIGUOUS_RERUNS; rerun++) {
      try {
        const result = await transact(db, (tx, n) => attempt(tx, n, command, origin, parsed, commandId, receivedAt), {
          policy: options.retry,
          // The budget counts from arrival: time spent in batches that conflicted is part of it.
          deadlineAt: receivedAt.getTime() + deadlineMs,
          // A slot is held only while an attempt runs, not during its backoff.
          aroundAttempt: (n, run) => limit.run(() => (user ? around(n, () => user(n, run)) : around(n, run))),
          onRetry: (event) => {
            limit.conflicted();
            stats.retries++;
            telemetry.retried(command.name, event);
            logger.debug({ commandId, idempotencyKey: parsed.idempotencyKey, attempt: event.attempt, sqlState: event.sqlState }, "transaction retry");
          },
        });
        if (result.attempts === 1) limit.succeeded();
        attempts += result.attempts;
        return settle(result.value, attempts);
      } catch (err) {
        if (err instanceof CommandError) return fail(err);
        if (err instanceof AmbiguousCommitError) {
          logger.warn({ commandId, idempotencyKey: parsed.idempotencyKey, err: (err.cause as Error)?.message }, "ambiguous commit; re-reading the key");
          try {
            const resolved = await resolveAmbiguous(subject, parsed, commandId);
            if (resolved) return settle(resolved, attempts + 1);
            continue;
          } catch (readErr) {
            if (readErr instanceof CommandError) return fail(readErr);
            return fail(new CommandError("unavailable", "the database did not confirm the outcome; retry with the same key", { cause: readErr }));
          }
        }
        if (err instanceof RetriesExhaustedError) {
          return fail(exhaustedError(err));
        }
        if (classifyError(err) === "connection") {
          return fail(new CommandError("unavailable", "the database is unreachable; retry with the same key", { cause: err }));
        }
        logger.error({ commandId, idempotencyKey: parsed.idempotencyKey, command: command.name, error: loggableError(err) }, "command failed");
        return fail(new CommandError("internal", "internal error", { cause: err }));
      }
    }
    return fail(new CommandError("unavailable", "the commit could not be confirmed; retry with the same key"));
  }

  function settle(outcome: AttemptOutcome, attempts: number): DispatchResult {
    if (outcome.replayed) stats.duplicates++;
    else if (outcome.reply.status === "committed") stats.committed++;
    else stats.rejected++;
    return { reply: outcome.reply, events: outcome.events, attempts };
  }

  return { domain, dispatch, stats };
}
