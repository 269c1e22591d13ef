import {
  createTraceState,
  isSpanContextValid,
  SpanStatusCode,
  trace,
  type Attributes,
  type Link,
  type Span,
  type SpanContext,
  type Tracer,
} from "@opentelemetry/api";
import {
  ATTR_ERROR_TYPE,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  MESSAGING_OPERATION_TYPE_PROCESS,
  MESSAGING_OPERATION_TYPE_SEND,
  MESSAGING_SYSTEM_NATS,
} from "./semconv.js";

/** Instrumentation scope of every Herald span and instrument. */
export const INSTRUMENTATION_SCOPE = "herald";

/**
 * Herald's tracer. A proxy until an SDK registers a provider, so taking it at
 * module load is fine; with no SDK its spans are non-recording and cost little.
 */
export const tracer: Tracer = trace.getTracer(INSTRUMENTATION_SCOPE);

/**
 * Span names are `<operation> <subject>`. Subjects come from a small fixed set
 * (a domain's commands and events), so names are built once, not per message.
 */
const names = new Map<string, Map<string, string>>();
const MAX_NAMES_PER_OPERATION = 1024;

export function spanName(operation: string, subject: string): string {
  let byOp = names.get(operation);
  if (!byOp) names.set(operation, (byOp = new Map()));
  let name = byOp.get(subject);
  if (name === undefined) {
    name = `${operation} ${subject}`;
    // A bound keeps a stream of odd subjects from growing the cache forever.
    if (byOp.size < MAX_NAMES_PER_OPERATION) byOp.set(subject, name);
  }
  return name;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The W3C `traceparent` of a span context. */
export function formatTraceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

/** A remote span context from W3C `traceparent` (and `tracestate`), or undefined if malformed. */
export function parseTraceparent(traceparent: string | undefined, tracestate?: string): SpanContext | undefined {
  const m = traceparent ? TRACEPARENT.exec(traceparent.trim()) : null;
  if (!m || m[1] === "ff") return undefined;
  const sc: SpanContext = { traceId: m[2]!, spanId: m[3]!, traceFlags: parseInt(m[4]!, 16) & 1, isRemote: true };
  if (tracestate) sc.traceState = createTraceState(tracestate);
  return isSpanContextValid(sc) ? sc : undefined;
}

/** A span link to the context a `traceparent` names, or none. */
export function linksFrom(traceparent: string | undefined, tracestate?: string): Link[] {
  const sc = parseTraceparent(traceparent, tracestate);
  return sc ? [{ context: sc }] : [];
}

/** Trace context of a command: what its events carry and what herald_commands stores. */
export interface TraceOrigin {
  traceparent: string | undefined;
  tracestate: string | undefined;
  traceId: string | undefined;
  spanId: string | undefined;
}

/**
 * The active span's context (the worker's process span), so that events and the
 * stored command point at the worker; without a valid active span (no SDK), the
 * request's own `traceparent` as it came.
 */
export function activeTraceOrigin(traceparent: string | undefined, tracestate: string | undefined): TraceOrigin {
  const sc = trace.getActiveSpan()?.spanContext();
  if (sc && isSpanContextValid(sc)) {
    return { traceparent: formatTraceparent(sc), tracestate: sc.traceState?.serialize() || undefined, traceId: sc.traceId, spanId: sc.spanId };
  }
  const m = traceparent ? TRACEPARENT.exec(traceparent) : null;
  return { traceparent, tracestate, traceId: m?.[2], spanId: m?.[3] };
}

/** Marks a span failed with a short, data-free error type (never a message that may quote input). */
export function failSpan(span: Span, errorType: string): void {
  if (!span.isRecording()) return;
  span.setAttribute(ATTR_ERROR_TYPE, errorType);
  span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
}

/** The messaging attributes every NATS span carries: system, destination and operation. */
export function natsSpanAttributes(operation: "send" | "publish" | "process", destination: string): Attributes {
  return {
    [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_NATS,
    [ATTR_MESSAGING_DESTINATION_NAME]: destination,
    [ATTR_MESSAGING_OPERATION_TYPE]: operation === "process" ? MESSAGING_OPERATION_TYPE_PROCESS : MESSAGING_OPERATION_TYPE_SEND,
    [ATTR_MESSAGING_OPERATION_NAME]: operation,
  };
}
