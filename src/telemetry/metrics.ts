import { metrics, ValueType, type Attributes, type Counter, type Histogram, type Meter, type MeterProvider } from "@opentelemetry/api";
import { METRIC } from "./semconv.js";
import { INSTRUMENTATION_SCOPE } from "./tracing.js";

/** The `herald` meter's synchronous instruments (see docs/observability.md). */
export interface HeraldInstruments {
  readonly meter: Meter;
  readonly commands: Counter;
  readonly commandDuration: Histogram;
  readonly transactionAttempts: Counter;
  readonly transactionRetries: Counter;
  readonly publishLag: Histogram;
  readonly publishFailures: Counter;
  readonly publishDeferred: Counter;
}

/** Seconds; OTel's default buckets assume milliseconds. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LAG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];

const cache = new WeakMap<MeterProvider, HeraldInstruments>();

/**
 * Instruments of the global meter provider as it is now. The metrics API has no
 * proxy (unlike tracing): instruments made before an SDK registers stay no-ops,
 * so components take them when they start, after `startTelemetry`.
 */
export function heraldInstruments(provider: MeterProvider = metrics.getMeterProvider()): HeraldInstruments {
  const cached = cache.get(provider);
  if (cached) return cached;
  const meter = provider.getMeter(INSTRUMENTATION_SCOPE);
  const instruments: HeraldInstruments = {
    meter,
    commands: meter.createCounter(METRIC.commands, {
      description: "Command requests answered, by outcome",
      unit: "{command}",
      valueType: ValueType.INT,
    }),
    commandDuration: meter.createHistogram(METRIC.commandDuration, {
      description: "Time from a request's arrival to its reply",
      unit: "s",
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS },
    }),
    transactionAttempts: meter.createCounter(METRIC.transactionAttempts, {
      description: "Database transaction attempts, the first included",
      unit: "{attempt}",
      valueType: ValueType.INT,
    }),
    transactionRetries: meter.createCounter(METRIC.transactionRetries, {
      description: "Transaction attempts run again after a retryable error (serialization failure, lost connection)",
      unit: "{retry}",
      valueType: ValueType.INT,
    }),
    publishLag: meter.createHistogram(METRIC.publishLag, {
      description: "Time from an event's commit to its JetStream PubAck",
      unit: "s",
      advice: { explicitBucketBoundaries: LAG_BUCKETS },
    }),
    publishFailures: meter.createCounter(METRIC.publishFailures, {
      description: "Event publications that got no PubAck (left to the outbox relay)",
      unit: "{event}",
      valueType: ValueType.INT,
    }),
    publishDeferred: meter.createCounter(METRIC.publishDeferred, {
      description: "Committed events not published at once because too many publishes were running (left to the outbox relay)",
      unit: "{event}",
      valueType: ValueType.INT,
    }),
  };
  cache.set(provider, instruments);
  return instruments;
}

/**
 * Attribute sets memoised by up to three string keys, so recording on the hot
 * path allocates nothing. The keys come from small sets (commands, outcomes,
 * error codes, SQLSTATEs); a bound guards against a misbehaving caller.
 */
export class AttributeSets {
  private readonly root = new Map<string, Map<string, Map<string, Attributes>>>();
  private size = 0;
  constructor(
    private readonly build: (a: string, b: string, c: string) => Attributes,
    private readonly max = 4096,
  ) {}

  get(a: string, b = "", c = ""): Attributes {
    let l1 = this.root.get(a);
    if (!l1) this.root.set(a, (l1 = new Map()));
    let l2 = l1.get(b);
    if (!l2) l1.set(b, (l2 = new Map()));
    let attrs = l2.get(c);
    if (!attrs) {
      attrs = this.build(a, b, c);
      if (this.size < this.max) {
        l2.set(c, attrs);
        this.size++;
      }
    }
    return attrs;
  }
}
