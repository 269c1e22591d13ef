import { SpanKind, trace, type Context } from "@opentelemetry/api";
import type { StoredReply } from "../protocol/replies.js";
import {
  ATTR_HERALD_ATTEMPT,
  ATTR_HERALD_COMMAND_ID,
  ATTR_HERALD_DUPLICATE,
  ATTR_HERALD_IDEMPOTENCY_KEY,
  ATTR_HERALD_OUTCOME,
  ATTR_HERALD_REJECTION_CODE,
  ATTR_HERALD_RETRY_DELAY_MS,
  ATTR_ERROR_TYPE,
} from "./semconv.js";
import { failSpan, natsSpanAttributes, spanName, tracer } from "./tracing.js";

/**
 * Runs a client request, all its attempts included, in one `send <subject>`
 * span (CLIENT, a child of `parent`); `run` gets the span's context to inject
 * into every attempt's headers, so each worker `process` span is its child.
 */
export async function traceSend(
  subject: string,
  idempotencyKey: string,
  parent: Context,
  run: (traceContext: Context) => Promise<StoredReply>,
): Promise<StoredReply> {
  const span = tracer.startSpan(spanName("send", subject), { kind: SpanKind.CLIENT }, parent);
  if (span.isRecording()) {
    span.setAttributes({
      ...natsSpanAttributes("send", subject),
      [ATTR_HERALD_IDEMPOTENCY_KEY]: idempotencyKey,
    });
  }
  try {
    const reply = await run(trace.setSpan(parent, span));
    if (span.isRecording()) {
      span.setAttribute(ATTR_HERALD_COMMAND_ID, reply.commandId);
      span.setAttribute(ATTR_HERALD_DUPLICATE, reply.duplicate);
      span.setAttribute(ATTR_HERALD_OUTCOME, reply.duplicate ? "duplicate" : reply.status);
      if (reply.status === "rejected") span.setAttribute(ATTR_HERALD_REJECTION_CODE, reply.error.code);
    }
    return reply;
  } catch (err) {
    if (span.isRecording()) span.setAttribute(ATTR_HERALD_OUTCOME, "error");
    failSpan(span, String((err as { code?: unknown })?.code ?? (err as Error)?.name ?? "Error"));
    throw err;
  } finally {
    span.end();
  }
}

/** A client retry: a `retry` event on the send span that `traceContext` holds. */
export function sendRetried(traceContext: Context, attempt: number, code: string, delayMs: number): void {
  const span = trace.getSpan(traceContext);
  if (!span?.isRecording()) return;
  span.addEvent("retry", { [ATTR_HERALD_ATTEMPT]: attempt, [ATTR_ERROR_TYPE]: code, [ATTR_HERALD_RETRY_DELAY_MS]: Math.round(delayMs) });
}
