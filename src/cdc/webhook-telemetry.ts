import { metrics, ValueType } from "@opentelemetry/api";
import { INSTRUMENTATION_SCOPE } from "../telemetry/tracing.js";

/** Instrument names of the changefeed webhook (docs/cdc-cockroachdb.md). */
export const WEBHOOK_METRIC = {
  requests: "herald.cdc.webhook.requests",
} as const;

const ATTR_STATUS = "http.response.status_code";

/**
 * Counts the webhook's replies by HTTP status: 401s point at a wrong
 * `webhook_auth_header`, 400s at a changefeed created without `updated` or for
 * an unwatched table, 503s at a bridge that cannot publish. Taken when the
 * source starts, after `startTelemetry`.
 */
export function webhookReplyCounter(): (status: number) => void {
  const counter = metrics.getMeterProvider().getMeter(INSTRUMENTATION_SCOPE).createCounter(WEBHOOK_METRIC.requests, {
    description: "Changefeed webhook requests answered, by status (2xx only after JetStream acked the batch)",
    unit: "{request}",
    valueType: ValueType.INT,
  });
  const attrs = new Map<number, { [ATTR_STATUS]: number }>();
  return (status) => {
    let a = attrs.get(status);
    if (!a) attrs.set(status, (a = { [ATTR_STATUS]: status }));
    counter.add(1, a);
  };
}
