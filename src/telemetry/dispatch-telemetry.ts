import { context, SpanKind, trace, type Attributes } from "@opentelemetry/api";
import { isRejection } from "../commands/define-command.js";
import type { DialectName } from "../db/connection.js";
import { findSqlState } from "../db/sqlstate.js";
import type { RetryEvent, TransactOptions } from "../db/transact.js";
import { heraldInstruments, AttributeSets } from "./metrics.js";
import {
  ATTR_DB_RESPONSE_STATUS_CODE,
  ATTR_DB_SYSTEM_NAME,
  ATTR_HERALD_ATTEMPT,
  ATTR_HERALD_COMMAND,
  ATTR_HERALD_DOMAIN,
  ATTR_HERALD_OUTCOME,
  ATTR_HERALD_REJECTION_CODE,
  ATTR_HERALD_RETRY_DELAY_MS,
} from "./semconv.js";
import { failSpan, spanName, tracer } from "./tracing.js";

export interface DispatchTelemetryOptions {
  /** The dispatcher's domain (`herald.domain`). Required. */
  domain: string;
  /** Database behind the dispatcher, reported as `db.system.name`. Required. */
  dialect: DialectName;
}

type AroundAttempt = NonNullable<TransactOptions["aroundAttempt"]>;

/** The dispatcher's spans and counters: one span per transaction attempt, the handler's span, retries. */
export interface DispatchTelemetry {
  /** `aroundAttempt` for one command's transactions (memoised per command). */
  aroundAttempt(command: string): AroundAttempt;
  /** A serialization retry: a `retry` event on the active (process) span and the retries counter. */
  retried(command: string, event: RetryEvent): void;
  /** Runs the command's handler in its own span. */
  handler<T>(command: string, subject: string, run: () => Promise<T>): Promise<T>;
}

/** A short, data-free name for why an attempt failed: the SQLSTATE, a Herald code or the class. */
function errorTypeOf(err: unknown, sqlState: string | undefined): string {
  if (sqlState) return sqlState;
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string" && /^[a-z_]{1,64}$/.test(code)) return code;
  return (err as Error)?.name || "Error";
}

export function createDispatchTelemetry(options: DispatchTelemetryOptions): DispatchTelemetry {
  const { domain, dialect } = options;
  const instruments = heraldInstruments();
  const commandAttrs = new AttributeSets((command) => ({ [ATTR_HERALD_DOMAIN]: domain, [ATTR_HERALD_COMMAND]: command }));
  const retryAttrs = new AttributeSets((command, sqlState) => {
    const attrs: Attributes = { [ATTR_HERALD_DOMAIN]: domain, [ATTR_HERALD_COMMAND]: command };
    if (sqlState) attrs[ATTR_DB_RESPONSE_STATUS_CODE] = sqlState;
    return attrs;
  });
  const arounds = new Map<string, AroundAttempt>();

  function aroundAttempt(command: string): AroundAttempt {
    let around = arounds.get(command);
    if (around) return around;
    const attrs = commandAttrs.get(command);
    around = async (attempt, run) => {
      instruments.transactionAttempts.add(1, attrs);
      const span = tracer.startSpan("transaction", { kind: SpanKind.CLIENT });
      if (span.isRecording()) {
        span.setAttribute(ATTR_DB_SYSTEM_NAME, dialect);
        span.setAttribute(ATTR_HERALD_COMMAND, command);
        span.setAttribute(ATTR_HERALD_ATTEMPT, attempt);
      }
      try {
        return await context.with(trace.setSpan(context.active(), span), run);
      } catch (err) {
        if (span.isRecording()) {
          const sqlState = findSqlState(err);
          if (sqlState) span.setAttribute(ATTR_DB_RESPONSE_STATUS_CODE, sqlState);
          failSpan(span, errorTypeOf(err, sqlState));
        }
        throw err;
      } finally {
        span.end();
      }
    };
    arounds.set(command, around);
    return around;
  }

  function retried(command: string, event: RetryEvent): void {
    instruments.transactionRetries.add(1, retryAttrs.get(command, event.sqlState ?? ""));
    const span = trace.getActiveSpan();
    if (span?.isRecording()) {
      const attrs: Attributes = { [ATTR_HERALD_ATTEMPT]: event.attempt, [ATTR_HERALD_RETRY_DELAY_MS]: Math.round(event.delayMs) };
      if (event.sqlState) attrs[ATTR_DB_RESPONSE_STATUS_CODE] = event.sqlState;
      span.addEvent("retry", attrs);
    }
  }

  async function handler<T>(command: string, subject: string, run: () => Promise<T>): Promise<T> {
    const span = tracer.startSpan(spanName("handle", subject));
    if (span.isRecording()) span.setAttribute(ATTR_HERALD_COMMAND, command);
    try {
      const value = await context.with(trace.setSpan(context.active(), span), run);
      if (span.isRecording() && isRejection(value)) {
        span.setAttribute(ATTR_HERALD_OUTCOME, "rejected");
        span.setAttribute(ATTR_HERALD_REJECTION_CODE, value.code);
      }
      return value;
    } catch (err) {
      failSpan(span, errorTypeOf(err, findSqlState(err)));
      throw err;
    } finally {
      span.end();
    }
  }

  return { aroundAttempt, retried, handler };
}
