import { createRequire } from "node:module";
import { diag, DiagLogLevel, metrics, type DiagLogger } from "@opentelemetry/api";
import type { MetricReader } from "@opentelemetry/sdk-metrics";
import type { SpanProcessor } from "@opentelemetry/sdk-trace-node";
import type { HeraldConfig } from "../config.js";
import { silentLogger, type Logger } from "./logger.js";

/** The configuration entries the SDK start looks at (see src/config.ts). */
export type TelemetryConfig = Partial<
  Pick<
    HeraldConfig,
    | "OTEL_SDK_DISABLED"
    | "OTEL_TRACES_EXPORTER"
    | "OTEL_METRICS_EXPORTER"
    | "OTEL_EXPORTER_OTLP_ENDPOINT"
    | "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    | "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
    | "OTEL_METRIC_EXPORT_INTERVAL"
    | "HERALD_OTEL_PG"
    | "OTEL_EXPORTER_PROMETHEUS_HOST"
    | "OTEL_EXPORTER_PROMETHEUS_PORT"
  >
>;

export type ExporterName = "otlp" | "console" | "prometheus";

/** What `startTelemetry` would start for a configuration. */
export interface TelemetryPlan {
  traces: ExporterName[];
  metrics: ExporterName[];
  /** Trace SQL statements with the pg instrumentation (needs traces). */
  pg: boolean;
  metricIntervalMs: number;
  /** Exporter names given but not supported here (zipkin, prometheus for traces...). */
  unsupported: string[];
}

export interface TelemetryOptions {
  /** `service.name` unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES name one. Default `herald`. */
  serviceName?: string;
  /** `service.version`. Default: none. */
  serviceVersion?: string;
  /** Receives the SDK's own warnings (an unreachable collector, say). Default: silent. */
  logger?: Logger;
}

/** A started (or deliberately not started) SDK. */
export interface Telemetry {
  /** False when no OTEL_* variable asked for telemetry: nothing was registered. */
  readonly enabled: boolean;
  readonly plan: TelemetryPlan;
  /** Exports what is buffered. */
  flush(): Promise<void>;
  /** Flushes and stops exporting; safe to call twice. */
  shutdown(): Promise<void>;
}

const SUPPORTED = new Set<string>(["otlp", "console", "prometheus"]);

function exporters(list: string | undefined, endpointSet: boolean, unsupported: string[]): ExporterName[] {
  // Unlike the OTel default ("otlp" always), nothing is exported unless asked for:
  // a worker without a collector stays silent instead of logging export failures.
  if (list === undefined) return endpointSet ? ["otlp"] : [];
  const names = list.split(",").map((n) => n.trim().toLowerCase()).filter((n) => n !== "");
  if (names.includes("none")) return [];
  for (const n of names) if (!SUPPORTED.has(n)) unsupported.push(n);
  return [...new Set(names.filter((n): n is ExporterName => SUPPORTED.has(n)))];
}

/** Decides from the configuration which exporters to start. Pure; `startTelemetry` follows it. */
export function telemetryPlan(config: TelemetryConfig): TelemetryPlan {
  const unsupported: string[] = [];
  const off = config.OTEL_SDK_DISABLED === true;
  const traceList = off ? [] : exporters(config.OTEL_TRACES_EXPORTER, !!(config.OTEL_EXPORTER_OTLP_ENDPOINT || config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), unsupported);
  // Prometheus is pull-based and metrics-only.
  if (traceList.includes("prometheus")) unsupported.push("prometheus (traces)");
  const traces = traceList.filter((n) => n !== "prometheus");
  const metricList = off ? [] : exporters(config.OTEL_METRICS_EXPORTER, !!(config.OTEL_EXPORTER_OTLP_ENDPOINT || config.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT), unsupported);
  return {
    traces,
    metrics: metricList,
    pg: traces.length > 0 && config.HERALD_OTEL_PG === true,
    metricIntervalMs: config.OTEL_METRIC_EXPORT_INTERVAL ?? 60_000,
    unsupported,
  };
}

/** A pull reader: Prometheus scrapes `http://<host>:<port>/metrics` (OTEL_EXPORTER_PROMETHEUS_HOST/PORT). */
async function prometheusReader(config: TelemetryConfig, logger: Logger): Promise<MetricReader> {
  const { PrometheusExporter } = await import("@opentelemetry/exporter-prometheus");
  const host = config.OTEL_EXPORTER_PROMETHEUS_HOST ?? "127.0.0.1";
  const port = config.OTEL_EXPORTER_PROMETHEUS_PORT ?? 9464;
  return new Promise((resolve, reject) => {
    const exporter = new PrometheusExporter({ host, port }, (err) => {
      if (err) reject(new Error(`the Prometheus endpoint could not listen on ${host}:${port}: ${err.message}`, { cause: err }));
      else {
        logger.info({ url: `http://${host}:${port}/metrics` }, "Prometheus metrics endpoint listening");
        resolve(exporter);
      }
    });
  });
}

function diagLogger(logger: Logger): DiagLogger {
  const log = (level: "warn" | "error" | "debug") => (message: string, ...args: unknown[]) =>
    logger[level]({ otel: args.length > 0 ? args.map((a) => (a instanceof Error ? a.message : a)) : undefined }, `opentelemetry: ${message}`);
  return { error: log("error"), warn: log("warn"), info: log("debug"), debug: log("debug"), verbose: log("debug") };
}

/**
 * Starts the OpenTelemetry SDK when the standard OTEL_* variables ask for it:
 * a tracer provider (batch export, AsyncLocalStorage context, W3C propagation),
 * a meter provider with a periodic reader, optionally the pg instrumentation.
 * Otherwise registers nothing and Herald's instrumentation stays a no-op. Call it
 * before creating workers: metric instruments bind to the provider present then.
 */
export async function startTelemetry(config: TelemetryConfig, options: TelemetryOptions = {}): Promise<Telemetry> {
  const plan = telemetryPlan(config);
  const logger = options.logger ?? silentLogger;
  if (plan.unsupported.length > 0) logger.warn({ exporters: plan.unsupported }, "unsupported OpenTelemetry exporters ignored");
  if (plan.traces.length === 0 && plan.metrics.length === 0) {
    return { enabled: false, plan, flush: async () => undefined, shutdown: async () => undefined };
  }
  diag.setLogger(diagLogger(logger), DiagLogLevel.WARN);

  // Loaded only when wanted: a worker without telemetry never loads the SDK.
  const { detectResources, envDetector, hostDetector, processDetector, resourceFromAttributes, serviceInstanceIdDetector } = await import("@opentelemetry/resources");
  const base: Record<string, string> = { "service.name": options.serviceName ?? "herald" };
  if (options.serviceVersion) base["service.version"] = options.serviceVersion;
  // Later resources win in merge(): OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES override the defaults.
  const resource = resourceFromAttributes(base).merge(
    detectResources({ detectors: [hostDetector, processDetector, serviceInstanceIdDetector, envDetector] }),
  );

  const stops: Array<() => Promise<void>> = [];
  const flushes: Array<() => Promise<void>> = [];

  if (plan.traces.length > 0) {
    const { BatchSpanProcessor, ConsoleSpanExporter, NodeTracerProvider } = await import("@opentelemetry/sdk-trace-node");
    const processors: SpanProcessor[] = [];
    for (const name of plan.traces) {
      if (name === "console") processors.push(new BatchSpanProcessor(new ConsoleSpanExporter()));
      else {
        const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
        processors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
      }
    }
    const provider = new NodeTracerProvider({ resource, spanProcessors: processors });
    // Also sets the AsyncLocalStorage context manager and the W3C propagators.
    provider.register();
    if (plan.pg) {
      const { registerInstrumentations } = await import("@opentelemetry/instrumentation");
      const { PgInstrumentation } = await import("@opentelemetry/instrumentation-pg");
      // Only statements inside Herald's spans: the relay's polling stays out of traces.
      registerInstrumentations({ tracerProvider: provider, instrumentations: [new PgInstrumentation({ requireParentSpan: true })] });
      // ESM imports ran before this point; requiring pg again lets the hook patch the loaded module.
      createRequire(import.meta.url)("pg");
    }
    flushes.push(() => provider.forceFlush());
    stops.push(() => provider.shutdown());
  }

  if (plan.metrics.length > 0) {
    const { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader } = await import("@opentelemetry/sdk-metrics");
    const readers: MetricReader[] = [];
    for (const name of plan.metrics) {
      if (name === "prometheus") {
        readers.push(await prometheusReader(config, logger));
        continue;
      }
      const exporter =
        name === "console" ? new ConsoleMetricExporter() : new (await import("@opentelemetry/exporter-metrics-otlp-http")).OTLPMetricExporter();
      const interval = plan.metricIntervalMs;
      readers.push(new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: interval, exportTimeoutMillis: Math.min(30_000, interval) }));
    }
    const provider = new MeterProvider({ resource, readers });
    metrics.setGlobalMeterProvider(provider);
    flushes.push(() => provider.forceFlush());
    stops.push(() => provider.shutdown());
  }

  let stopping: Promise<void> | undefined;
  return {
    enabled: true,
    plan,
    async flush() {
      await Promise.allSettled(flushes.map((f) => f()));
    },
    shutdown() {
      stopping ??= Promise.allSettled(stops.map((s) => s())).then(() => undefined);
      return stopping;
    },
  };
}
