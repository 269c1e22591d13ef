import { context, ROOT_CONTEXT, SpanKind, type Span } from "@opentelemetry/api";
import type { OutboxEvent } from "../outbox/outbox-event.js";
import { CE, TRACEPARENT_HEADER, TRACESTATE_HEADER } from "../protocol/headers.js";
import { heraldInstruments, AttributeSets, type HeraldInstruments } from "./metrics.js";
import {
  ATTR_HERALD_COMMAND_ID,
  ATTR_HERALD_DOMAIN,
  ATTR_HERALD_RELAYED,
  ATTR_HERALD_STREAM_DUPLICATE,
  ATTR_HERALD_STREAM_SEQUENCE,
  ATTR_MESSAGING_MESSAGE_ID,
} from "./semconv.js";
import { failSpan, linksFrom, natsSpanAttributes, spanName, tracer } from "./tracing.js";

/**
 * `publish <event subject>` spans (PRODUCER) and the publish metrics. The worker
 * publishes inside the command's process span, so its spans are children; the
 * relay publishes later from a timer, so its spans start new traces linked to
 * the command's trace through the `traceparent` stored with the event.
 */
export class PublishTelemetry {
  private readonly instruments: HeraldInstruments = heraldInstruments();
  private readonly attrs = new AttributeSets((domain, relayed) => ({ [ATTR_HERALD_DOMAIN]: domain, [ATTR_HERALD_RELAYED]: relayed === "1" }));

  start(event: OutboxEvent, relayed: boolean): Span {
    const name = spanName("publish", event.subject);
    const span = relayed
      ? tracer.startSpan(name, { kind: SpanKind.PRODUCER, links: linksFrom(event.headers[TRACEPARENT_HEADER], event.headers[TRACESTATE_HEADER]) }, ROOT_CONTEXT)
      : tracer.startSpan(name, { kind: SpanKind.PRODUCER }, context.active());
    if (span.isRecording()) {
      span.setAttributes({
        ...natsSpanAttributes("publish", event.subject),
        [ATTR_MESSAGING_MESSAGE_ID]: event.id,
        [ATTR_HERALD_COMMAND_ID]: event.commandId,
        [ATTR_HERALD_RELAYED]: relayed,
      });
    }
    return span;
  }

  /** The PubAck came: lag since commit (the event's `ce-time`) and the span's end. */
  acked(span: Span, event: OutboxEvent, relayed: boolean, ack: { seq: number; duplicate: boolean }): void {
    const committedAt = Date.parse(event.headers[CE.time] ?? "");
    if (!Number.isNaN(committedAt)) {
      this.instruments.publishLag.record(Math.max(0, Date.now() - committedAt) / 1000, this.attrs.get(event.domain, relayed ? "1" : "0"));
    }
    if (span.isRecording()) {
      span.setAttribute(ATTR_HERALD_STREAM_SEQUENCE, ack.seq);
      if (ack.duplicate) span.setAttribute(ATTR_HERALD_STREAM_DUPLICATE, true);
    }
    span.end();
  }

  /** Not published at once (the publisher was at its bound): the relay will. */
  deferred(domain: string, count: number): void {
    this.instruments.publishDeferred.add(count, this.attrs.get(domain, "0"));
  }

  /** No PubAck: the relay will try again. */
  failed(span: Span, event: OutboxEvent, relayed: boolean, err: unknown): void {
    this.instruments.publishFailures.add(1, this.attrs.get(event.domain, relayed ? "1" : "0"));
    const code = (err as { code?: unknown })?.code;
    failSpan(span, code !== undefined && code !== null ? String(code) : (err as Error)?.name || "Error");
    span.end();
  }
}
