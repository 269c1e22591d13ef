import { context, metrics, propagation, trace, type Attributes } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { MeterProvider, MetricReader, type DataPoint, type Histogram, type MetricData } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";

/** A metric reader that only collects when asked. */
class InMemoryMetricReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/** One data point of a metric, flattened. */
export interface Point {
  attributes: Attributes;
  value: number | Histogram;
}

export interface TestTelemetry {
  readonly spans: InMemorySpanExporter;
  /** Finished spans of one trace. */
  traceSpans(traceId: string): ReadableSpan[];
  /** Collects now and returns the points of one metric (none when it has no data). */
  points(name: string): Promise<Point[]>;
  /** Collects now and returns every metric by name. */
  collect(): Promise<Map<string, MetricData>>;
}

/**
 * Registers an in-memory tracing and metrics SDK in this test process, as an
 * application would: AsyncLocalStorage context, W3C propagation, global
 * providers. Must run before workers start (metric instruments bind then).
 */
export function installTestTelemetry(): TestTelemetry {
  const spans = new InMemorySpanExporter();
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
  const reader = new InMemoryMetricReader();
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));

  const collect = async () => {
    const { resourceMetrics, errors } = await reader.collect();
    if (errors.length > 0) throw errors[0];
    const byName = new Map<string, MetricData>();
    for (const scope of resourceMetrics.scopeMetrics) for (const m of scope.metrics) byName.set(m.descriptor.name, m);
    return byName;
  };
  return {
    spans,
    traceSpans: (traceId) => spans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId),
    collect,
    async points(name) {
      const metric = (await collect()).get(name);
      if (!metric) return [];
      return (metric.dataPoints as Array<DataPoint<number | Histogram>>).map((p) => ({ attributes: p.attributes, value: p.value }));
    },
  };
}

/** Sum of counter points whose attributes include `match`. */
export function sumWhere(points: Point[], match: Attributes): number {
  return points
    .filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v))
    .reduce((sum, p) => sum + (typeof p.value === "number" ? p.value : p.value.count), 0);
}

export const childrenOf = (spans: ReadableSpan[], parent: ReadableSpan): ReadableSpan[] =>
  spans.filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);
