import type { JsMsg } from "@nats-io/jetstream";
import {
  context,
  metrics,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  ValueType,
  type Counter,
  type Gauge,
  type Histogram,
  type MeterProvider,
} from "@opentelemetry/api";
import { headerValue } from "../messaging/nats-headers.js";
import { CE, TRACEPARENT_HEADER, TRACESTATE_HEADER } from "../protocol/headers.js";
import { AttributeSets } from "./metrics.js";
import {
  ATTR_HERALD_COMMAND_ID,
  ATTR_HERALD_DOMAIN,
  ATTR_HERALD_OUTCOME,
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_MESSAGE_ID,
  METRIC,
} from "./semconv.js";
import { INSTRUMENTATION_SCOPE, linksFrom, natsSpanAttributes, spanName, tracer } from "./tracing.js";

/** What the consumer's counters say about one message; diffed before and after to name its outcome. */
interface Counts {
  processed: number;
  duplicates: number;
  retried: number;
  deadLettered: number;
}

interface ConsumerInstruments {
  lag: Histogram;
  pending: Gauge;
  deadLetters: Counter;
}

const byProvider = new WeakMap<MeterProvider, ConsumerInstruments>();

function instruments(): ConsumerInstruments {
  const provider = metrics.getMeterProvider();
  let found = byProvider.get(provider);
  if (!found) {
    const meter = provider.getMeter(INSTRUMENTATION_SCOPE);
    found = {
      lag: meter.createHistogram(METRIC.consumerLag, {
        description: "Time from an event's commit to the end of its processing by a consumer",
        unit: "s",
        advice: { explicitBucketBoundaries: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600] },
      }),
      pending: meter.createGauge(METRIC.consumerPending, {
        description: "Messages the durable consumer had yet to deliver, as of the last delivery",
        unit: "{event}",
        valueType: ValueType.INT,
      }),
      deadLetters: meter.createCounter(METRIC.consumerDeadLetters, {
        description: "Events a consumer gave up on (dead-lettered)",
        unit: "{event}",
        valueType: ValueType.INT,
      }),
    };
    byProvider.set(provider, found);
  }
  return found;
}

const attrSets = new AttributeSets((domain, consumer) => ({ [ATTR_HERALD_DOMAIN]: domain, [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: consumer }));

function outcomeOf(before: Counts, after: Counts): string {
  if (after.deadLettered > before.deadLettered) return "dead_lettered";
  if (after.retried > before.retried) return "retried";
  if (after.duplicates > before.duplicates) return "duplicate";
  return "processed";
}

/**
 * Processes one event message in a `process <event subject>` span (CONSUMER): a
 * new trace linked to the context the event carries (the worker's process span),
 * since an event is handled on its own schedule, possibly long after the command.
 * Records consumer lag, the durable's pending count and dead letters.
 */
export async function traceConsumed(
  consumer: { domain: string; durable: string; stats: Counts },
  msg: JsMsg,
  run: () => Promise<void>,
): Promise<void> {
  const span = tracer.startSpan(spanName("process", msg.subject), { kind: SpanKind.CONSUMER }, ROOT_CONTEXT);
  if (span.isRecording()) {
    // Added after the start so an untraced consumer never parses headers for it.
    span.addLinks(linksFrom(headerValue(msg.headers, TRACEPARENT_HEADER), headerValue(msg.headers, TRACESTATE_HEADER)));
    span.setAttributes({
      ...natsSpanAttributes("process", msg.subject),
      [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: consumer.durable,
      [ATTR_HERALD_DOMAIN]: consumer.domain,
    });
    const id = headerValue(msg.headers, CE.id);
    if (id) span.setAttribute(ATTR_MESSAGING_MESSAGE_ID, id);
    const commandId = headerValue(msg.headers, CE.commandId);
    if (commandId) span.setAttribute(ATTR_HERALD_COMMAND_ID, commandId);
  }
  const before = { ...consumer.stats };
  try {
    await context.with(trace.setSpan(ROOT_CONTEXT, span), run);
  } finally {
    const outcome = outcomeOf(before, consumer.stats);
    const attrs = attrSets.get(consumer.domain, consumer.durable);
    const recorded = instruments();
    recorded.pending.record(msg.info.pending, attrs);
    if (outcome === "dead_lettered") recorded.deadLetters.add(1, attrs);
    else if (outcome === "processed") {
      const committedAt = Date.parse(headerValue(msg.headers, CE.time) ?? "");
      if (!Number.isNaN(committedAt)) recorded.lag.record(Math.max(0, Date.now() - committedAt) / 1000, attrs);
    }
    if (span.isRecording()) {
      span.setAttribute(ATTR_HERALD_OUTCOME, outcome);
      if (outcome === "dead_lettered" || outcome === "retried") span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
    }
    span.end();
  }
}
