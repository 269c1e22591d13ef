import { randomUUID } from "node:crypto";
import { context } from "@opentelemetry/api";
import type { Kysely } from "kysely";
import { AmbiguousCommitError, CommandError, exhaustedError, RetriesExhaustedError, unknownOutcomeError } from "../errors.js";
import type { DialectName } from "../db/connection.js";
import { classifyError } from "../db/sqlstate.js";
import { DEFAULT_RETRY_POLICY, transact, type RetryPolicy, type TransactOptions } from "../db/transact.js";
import type { HeraldTables } from "../db/schema.js";
import { findCommand, replayStored } from "../idempotency/store.js";
import type { OutboxEvent } from "../outbox/outbox-event.js";
import { unpublishedEventsOf } from "../outbox/store.js";
import type { ErrorReply, Reply } from "../protocol/replies.js";
import { createDispatchTelemetry } from "../telemetry/dispatch-telemetry.js";
import { silentLogger, type Logger } from "../telemetry/logger.js";
import { activeTraceOrigin } from "../telemetry/tracing.js";
import type { AnyCommand } from "./define-command.js";
import { emptyStats, type DispatchStats } from "./dispatch-stats.js";
import { parseRequest, type ParsedRequest } from "./parse-request.js";
import { createAdaptiveLimit } from "./adaptive-limit.js";
import { BATCH_LOCK_TIMEOUT_MS, type AttemptOutcome, type PendingCommand } from "./batch-attempt.js";
import { DeadlineExpiredError, raceDeadline } from "./command-deadline.js";
import { createGroupCommit } from "./group-commit.js";
import { runLoneAttempt } from "./lone-attempt.js";
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
  /**
   * Most request-body bytes in one group-commit transaction; a larger command
   * runs in a batch of its own. Default 2 MiB (DEFAULT_MAX_BATCH_BYTES).
   */
  maxBatchBytes?: number;
}

/**
 * Default byte bound of a batch: 2 MiB of request bodies. The claim statement
 * carries each payload once and the completion statement again, next to the
 * replies and events, each quoted (a quote or backslash doubles), so a batch
 * of 2 MiB of bodies stays several times under CockroachDB's 16 MiB limit
 * per statement (`sql.conn.max_read_buffer_message_size`, see
 * docs/cockroachdb.md) unless its results and events are many times larger
 * than its inputs.
 */
export const DEFAULT_MAX_BATCH_BYTES = 2 * 1024 * 1024;

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
  /**
   * The checks `dispatch` makes before any database work (command name, size,
   * key, JSON, schema), synchronously: the error answer (counted in `stats`)
   * when the request fails one, undefined when it passes. A worker at its
   * in-flight limit uses it to give a bad request its own error code rather
   * than `overloaded`.
   */
  check(request: IncomingCommand): DispatchResult | undefined;
  readonly stats: DispatchStats;
  /**
   * Resolves once no command's work runs any more. A command answered at its
   * deadline may still be finishing a statement (each bounded by the
   * statement timeout) and rolling back.
   */
  idle(): Promise<void>;
}

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
  const dialect = options.dialect ?? "postgresql";
  const telemetry = createDispatchTelemetry({ domain, dialect });
  const maxBatchSize = options.maxBatchSize ?? 64;
  const deadlineMs = options.retry?.deadlineMs ?? DEFAULT_RETRY_POLICY.deadlineMs;
  /** Work still running, answered or not (a command answered at its deadline may still be rolling back). */
  const running = new Set<Promise<unknown>>();
  const loneDeps = { domain, retentionHours, handler: telemetry.handler };
  const groupCommit = createGroupCommit<DispatchResult>({
    ...loneDeps,
    db,
    lockTimeoutMs: BATCH_LOCK_TIMEOUT_MS[dialect],
    maxBatchSize,
    maxBatchBytes: options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES,
    maxTransactions: options.maxConcurrentTransactions ?? 10,
    limit,
    stats,
    logger,
    settle: (outcome, attempts) => settle(outcome, attempts),
    fail: (err) => fail(err),
    runSingle: (pending) => runSingle(pending),
    resolveAmbiguous: (p) => resolveAmbiguous(p),
  });

  const fail = (err: CommandError): DispatchResult => ({ reply: errorReply(err), events: [], attempts: 0 });

  /** Counts the answer that goes out (and only it: work answered at its deadline may finish later). */
  function count(result: DispatchResult): DispatchResult {
    const { reply } = result;
    if (reply.status === "error") stats.errors[reply.error.code] = (stats.errors[reply.error.code] ?? 0) + 1;
    else if (reply.duplicate) stats.duplicates++;
    else if (reply.status === "committed") stats.committed++;
    else stats.rejected++;
    return result;
  }

  /** After an ambiguous COMMIT: what is stored under the key decides the answer. */
  async function resolveAmbiguous(pending: PendingCommand): Promise<AttemptOutcome | undefined> {
    const { subject, parsed, commandId, deadline } = pending;
    stats.ambiguous++;
    const { value: existing } = await transact(db, (tx) => findCommand(tx, domain, parsed.idempotencyKey), {
      policy: options.retry,
      deadlineAt: deadline.at,
    });
    if (!existing) return undefined;
    const reply = replayStored(existing, subject, parsed.fingerprint);
    if (existing.id !== commandId) return { reply, events: [], replayed: true };
    return { reply: { ...reply, duplicate: false }, events: await unpublishedEventsOf(db, commandId), replayed: false };
  }

  /** The command and its parsed request, or the error answer for a request that fails a check. */
  function validate(request: IncomingCommand): { command: AnyCommand; subject: string; parsed: ParsedRequest } | DispatchResult {
    const command = registry.get(request.command);
    if (!command) return count(fail(new CommandError("unknown_command", `${domain} has no command "${request.command}"`)));
    const subject = registry.subjectOf(command);
    try {
      const parsed = parseRequest(command, { subject, body: request.body, idempotencyKey: request.idempotencyKey, headerError: request.headerError }, maxPayloadBytes);
      return { command, subject, parsed };
    } catch (err) {
      if (err instanceof CommandError) return count(fail(err));
      throw err;
    }
  }

  function check(request: IncomingCommand): DispatchResult | undefined {
    const checked = validate(request);
    return "reply" in checked ? checked : undefined;
  }

  async function dispatch(request: IncomingCommand): Promise<DispatchResult> {
    const checked = validate(request);
    if ("reply" in checked) return checked;
    const { command, subject, parsed } = checked;
    const commandId = randomUUID();
    const receivedAt = new Date();
    // The process span's context (or the request's, untraced): stored with the command, carried by its events.
    const origin = activeTraceOrigin(request.traceparent, request.tracestate);
    const active = context.active();
    const race = raceDeadline(
      receivedAt.getTime() + deadlineMs,
      (deadline) => {
        const pending: PendingCommand = { command, subject, parsed, origin, commandId, receivedAt, context: active, bodyBytes: request.body.byteLength, deadline };
        return maxBatchSize < 2 ? runSingle(pending) : groupCommit.submit(pending);
      },
      (outcome) => fail(outcome === "unknown_outcome" ? unknownOutcomeError() : exhaustedError()),
    );
    running.add(race.work);
    void race.work.finally(() => running.delete(race.work));
    return count(await race.answer);
  }

  /** One command in its own transaction, retried on conflicts: the path every command can fall back to. */
  async function runSingle(pending: PendingCommand): Promise<DispatchResult> {
    const { command, parsed, commandId, deadline } = pending;
    const around = telemetry.aroundAttempt(command.name);
    const user = options.aroundAttempt;
    let attempts = 0;
    let unresolved: unknown;
    for (let rerun = 0; rerun <= AMBIGUOUS_RERUNS && !deadline.expired; rerun++) {
      try {
        const result = await transact(db, (tx, n) => runLoneAttempt(tx, n, pending, loneDeps), {
          policy: options.retry,
          // The budget counts from arrival: time spent queued and in batches that conflicted is part of it.
          deadlineAt: deadline.at,
          // A slot is held only while an attempt runs, not during its backoff; one answered meanwhile leaves the queue.
          aroundAttempt: (n, run) => limit.run(() => (user ? around(n, () => user(n, run)) : around(n, run)), deadline),
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
        if (err instanceof DeadlineExpiredError) return fail(exhaustedError(err));
        if (err instanceof AmbiguousCommitError) {
          logger.warn({ commandId, idempotencyKey: parsed.idempotencyKey, error: loggableError(err.cause) }, "ambiguous commit; re-reading the key");
          try {
            const resolved = await resolveAmbiguous(pending);
            if (resolved) return settle(resolved, attempts + 1);
            deadline.leaveCommit(false);
            unresolved = err.cause;
            continue;
          } catch (readErr) {
            if (readErr instanceof CommandError) return fail(readErr);
            return fail(unknownOutcomeError(readErr));
          }
        }
        if (err instanceof RetriesExhaustedError) return fail(exhaustedError(err));
        if (classifyError(err) === "connection") {
          return fail(new CommandError("unavailable", "the database is unreachable; retry with the same key", { cause: err }));
        }
        return failInternal(pending, err);
      }
    }
    // Every run's COMMIT was refused with an error, and the key proved nothing committed.
    if (unresolved !== undefined && classifyError(unresolved) === "fatal") return failInternal(pending, unresolved);
    return fail(new CommandError("unavailable", "the commit could not be confirmed; retry with the same key"));
  }

  function failInternal(pending: PendingCommand, err: unknown): DispatchResult {
    logger.error({ commandId: pending.commandId, idempotencyKey: pending.parsed.idempotencyKey, command: pending.command.name, error: loggableError(err) }, "command failed");
    return fail(new CommandError("internal", "internal error", { cause: err }));
  }

  function settle(outcome: AttemptOutcome, attempts: number): DispatchResult {
    return { reply: outcome.reply, events: outcome.events, attempts };
  }

  /** Resolves once every command's work has ended, those answered at their deadline included. */
  async function idle(): Promise<void> {
    while (running.size > 0) await Promise.allSettled([...running]);
  }

  return { domain, dispatch, check, stats, idle };
}
