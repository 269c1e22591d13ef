import { metrics, ROOT_CONTEXT, SpanKind, ValueType, type Counter, type Histogram, type Span } from "@opentelemetry/api";
import { AttributeSets } from "../telemetry/metrics.js";
import { ATTR_HERALD_DOMAIN, ATTR_HERALD_STREAM_DUPLICATE, ATTR_HERALD_STREAM_SEQUENCE, ATTR_MESSAGING_MESSAGE_ID } from "../telemetry/semconv.js";
import { failSpan, INSTRUMENTATION_SCOPE, natsSpanAttributes, spanName, tracer } from "../telemetry/tracing.js";
import type { EncodedChange } from "./change-message.js";
import type { RowChange } from "./change-source.js";

/** Instrument names of the CDC bridge (docs/cdc.md). */
export const CDC_METRIC = {
  lag: "herald.cdc.lag",
  published: "herald.cdc.published",
  failures: "herald.cdc.failures",
} as const;

const LAG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];
const ATTR_CDC_TABLE = "herald.cdc.table";

/**
 * `publish <domain>.cdc.<table>.<op>` spans (PRODUCER, each a root: a change has
 * no caller's trace) and the lag histogram: now minus commit time, at PubAck.
 * Instruments are taken when the bridge starts, after `startTelemetry`.
 */
export class CdcTelemetry {
  private readonly lag: Histogram;
  private readonly published: Counter;
  private readonly failures: Counter;
  private readonly attrs = new AttributeSets((domain, table) => ({ [ATTR_HERALD_DOMAIN]: domain, [ATTR_CDC_TABLE]: table }));

  constructor(private readonly domain: string) {
    const meter = metrics.getMeterProvider().getMeter(INSTRUMENTATION_SCOPE);
    this.lag = meter.createHistogram(CDC_METRIC.lag, {
      description: "Time from a row change's commit to its JetStream PubAck",
      unit: "s",
      advice: { explicitBucketBoundaries: LAG_BUCKETS },
    });
    this.published = meter.createCounter(CDC_METRIC.published, { description: "Row changes acked by JetStream (duplicates included)", unit: "{change}", valueType: ValueType.INT });
    this.failures = meter.createCounter(CDC_METRIC.failures, { description: "Row change publications that got no PubAck (the source sends them again)", unit: "{change}", valueType: ValueType.INT });
  }

  start(message: EncodedChange): Span {
    const span = tracer.startSpan(spanName("publish", message.subject), { kind: SpanKind.PRODUCER }, ROOT_CONTEXT);
    if (span.isRecording()) span.setAttributes({ ...natsSpanAttributes("publish", message.subject), [ATTR_MESSAGING_MESSAGE_ID]: message.id });
    return span;
  }

  acked(span: Span, change: RowChange, ack: { seq: number; duplicate: boolean }): void {
    const attrs = this.attrs.get(this.domain, change.table);
    this.lag.record(Math.max(0, Date.now() - change.commitTime.getTime()) / 1000, attrs);
    this.published.add(1, attrs);
    if (span.isRecording()) {
      span.setAttribute(ATTR_HERALD_STREAM_SEQUENCE, ack.seq);
      if (ack.duplicate) span.setAttribute(ATTR_HERALD_STREAM_DUPLICATE, true);
    }
    span.end();
  }

  failed(span: Span, change: RowChange, err: unknown): void {
    this.failures.add(1, this.attrs.get(this.domain, change.table));
    const code = (err as { code?: unknown })?.code;
    failSpan(span, code !== undefined && code !== null ? String(code) : (err as Error)?.name || "Error");
    span.end();
  }
}
