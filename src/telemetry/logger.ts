import { isSpanContextValid, trace } from "@opentelemetry/api";
import pino from "pino";

/** The logging surface Herald uses; pino's loggers satisfy it. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

const NO_TRACE = Object.freeze({});

/** pino's default merge writes into the mixin's object; the shared empty one must stay empty. */
function mergeTrace(mergeObject: object, mixinObject: object): object {
  return mixinObject === NO_TRACE ? mergeObject : Object.assign(mixinObject, mergeObject);
}

/**
 * Fields pino adds to every line: the active span's ids, so logs join their
 * trace. Outside a span (or with no tracing SDK) it adds nothing and allocates nothing.
 */
export function traceMixin(): object {
  const sc = trace.getActiveSpan()?.spanContext();
  if (!sc || !isSpanContextValid(sc)) return NO_TRACE;
  return { trace_id: sc.traceId, span_id: sc.spanId, trace_flags: (sc.traceFlags & 0xff).toString(16).padStart(2, "0") };
}

export interface LoggerOptions {
  /** Lowest level written (LOG_LEVEL). Default `info`. */
  level?: string;
  /** The `name` field of each line. Default `herald`. */
  name?: string;
  /** Where lines go. Default: stderr. */
  destination?: pino.DestinationStream;
}

/**
 * JSON lines on stderr, so stdout stays free for a command's own output. Lines
 * logged within a span carry `trace_id` and `span_id`. Herald logs ids (command
 * id, idempotency key, event id), never command or event payloads.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    { level: options.level ?? "info", name: options.name ?? "herald", base: undefined, mixin: traceMixin, mixinMergeStrategy: mergeTrace },
    options.destination ?? pino.destination(2),
  );
}

const noop = () => undefined;

/** A logger that drops everything; the default for embedded use and tests. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => silentLogger };
