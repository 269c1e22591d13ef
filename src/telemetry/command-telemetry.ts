import { performance } from "node:perf_hooks";
import { ROOT_CONTEXT, SpanKind, trace, type Attributes, type Context, type Span } from "@opentelemetry/api";
import type { MsgHdrs } from "@nats-io/nats-core";
import { ERROR_STATUS, type ErrorCode } from "../errors.js";
import type { Reply } from "../protocol/replies.js";
import { heraldInstruments, AttributeSets, type HeraldInstruments } from "./metrics.js";
import { extractTraceContext } from "./propagation.js";
import {
  ATTR_ERROR_TYPE,
  ATTR_HERALD_COMMAND,
  ATTR_HERALD_COMMAND_ID,
  ATTR_HERALD_DOMAIN,
  ATTR_HERALD_DUPLICATE,
  ATTR_HERALD_IDEMPOTENCY_KEY,
  ATTR_HERALD_OUTCOME,
  ATTR_HERALD_REJECTION_CODE,
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
} from "./semconv.js";
import { failSpan, natsSpanAttributes, spanName, tracer } from "./tracing.js";

/** What a command's reply counts as: `committed`, `duplicate`, `rejected` or `error`. */
export type CommandOutcome = "committed" | "duplicate" | "rejected" | "error";

export function outcomeOf(reply: Reply): CommandOutcome {
  if (reply.status === "error") return "error";
  if (reply.duplicate) return "duplicate";
  return reply.status;
}

/** One request being processed: its `process <subject>` span and its clock. */
export class CommandScope {
  /** Run the request's work in this context so its spans are children of the process span. */
  readonly context: Context;
  private readonly started = performance.now();
  constructor(
    private readonly span: Span,
    parent: Context,
    private readonly command: string,
    private readonly record: CommandTelemetry,
  ) {
    this.context = trace.setSpan(parent, span);
  }

  /** The reply went out: outcome on the span, the commands counter and the duration histogram. */
  replied(reply: Reply): void {
    const outcome = outcomeOf(reply);
    const code = reply.status === "error" ? reply.error.code : "";
    this.record.count(this.command, outcome, code, (performance.now() - this.started) / 1000);
    const span = this.span;
    if (!span.isRecording()) return;
    span.setAttribute(ATTR_HERALD_OUTCOME, outcome);
    if (reply.status === "error") {
      // Client mistakes (4xx) are not failures of the worker; only 5xx mark the span.
      if ((ERROR_STATUS[code as ErrorCode] ?? 500) >= 500) failSpan(span, code);
      else span.setAttribute(ATTR_ERROR_TYPE, code);
      return;
    }
    span.setAttribute(ATTR_HERALD_COMMAND_ID, reply.commandId);
    span.setAttribute(ATTR_HERALD_DUPLICATE, reply.duplicate);
    if (reply.status === "rejected") span.setAttribute(ATTR_HERALD_REJECTION_CODE, reply.error.code);
    span.addEvent("reply sent");
  }

  /** After the after-reply work (publishing the events). */
  end(error?: unknown): void {
    if (error !== undefined) failSpan(this.span, (error as Error)?.name || "Error");
    this.span.end();
  }
}

/** Spans and metrics of a domain's command service. */
export class CommandTelemetry {
  private readonly instruments: HeraldInstruments = heraldInstruments();
  private readonly outcomeAttrs: AttributeSets;

  constructor(
    private readonly domain: string,
    private readonly queueGroup: string,
  ) {
    this.outcomeAttrs = new AttributeSets((command, outcome, code) => {
      const attrs: Attributes = { [ATTR_HERALD_DOMAIN]: domain, [ATTR_HERALD_OUTCOME]: outcome };
      if (command) attrs[ATTR_HERALD_COMMAND] = command;
      if (code) attrs[ATTR_ERROR_TYPE] = code;
      return attrs;
    });
  }

  /** Starts the `process <subject>` span, a child of the client's context from the headers. */
  begin(subject: string, command: string, headers: MsgHdrs | undefined, idempotencyKey: string | undefined): CommandScope {
    const parent = extractTraceContext(headers, ROOT_CONTEXT);
    const span = tracer.startSpan(spanName("process", subject), { kind: SpanKind.SERVER }, parent);
    if (span.isRecording()) {
      span.setAttributes({
        ...natsSpanAttributes("process", subject),
        [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: this.queueGroup,
        [ATTR_HERALD_DOMAIN]: this.domain,
        [ATTR_HERALD_COMMAND]: command,
      });
      if (idempotencyKey !== undefined) span.setAttribute(ATTR_HERALD_IDEMPOTENCY_KEY, idempotencyKey);
    }
    return new CommandScope(span, parent, command, this);
  }

  /** A request answered without being dispatched (`overloaded`, `unknown_command`); `command` "" when unknown. */
  refused(command: string, code: string): void {
    this.instruments.commands.add(1, this.outcomeAttrs.get(command, "error", code));
  }

  /** @internal */
  count(command: string, outcome: CommandOutcome, code: string, seconds: number): void {
    const attrs = this.outcomeAttrs.get(command, outcome, code);
    this.instruments.commands.add(1, attrs);
    this.instruments.commandDuration.record(seconds, attrs);
  }
}
