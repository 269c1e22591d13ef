import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders, type NatsConnection } from "@nats-io/nats-core";
import { metrics, trace } from "@opentelemetry/api";
import { bankApp } from "../../examples/bank/index.js";
import { migrateApp } from "../../src/db/migrate-app.js";
import { startTelemetry, telemetryPlan } from "../../src/telemetry/sdk.js";
import { spawnCli } from "../kit/cli.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { uniqueDomain, uniqueKey } from "../kit/names.js";
import { connectSharedNats } from "../kit/nats-server.js";
import { waitFor } from "../kit/wait.js";
import { startOtlpReceiver, type OtlpReceiver } from "./otlp-receiver.js";

test("the SDK starts only when OTEL_* settings ask for it", () => {
  const none = { traces: [], metrics: [], pg: false, metricIntervalMs: 60_000, unsupported: [] };
  assert.deepEqual(telemetryPlan({}), none);
  assert.deepEqual(telemetryPlan({ HERALD_OTEL_PG: true }), none, "pg tracing alone starts nothing");
  const endpoint = "http://collector:4318";
  assert.deepEqual(telemetryPlan({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, HERALD_OTEL_PG: true }), { ...none, traces: ["otlp"], metrics: ["otlp"], pg: true });
  assert.deepEqual(telemetryPlan({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${endpoint}/v1/traces` }), { ...none, traces: ["otlp"] });
  assert.deepEqual(telemetryPlan({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${endpoint}/v1/metrics`, OTEL_METRIC_EXPORT_INTERVAL: 5000 }), {
    ...none,
    metrics: ["otlp"],
    metricIntervalMs: 5000,
  });
  assert.deepEqual(telemetryPlan({ OTEL_TRACES_EXPORTER: "console" }), { ...none, traces: ["console"] });
  assert.deepEqual(telemetryPlan({ OTEL_TRACES_EXPORTER: "otlp, Console,zipkin", OTEL_METRICS_EXPORTER: "none" }), {
    ...none,
    traces: ["otlp", "console"],
    unsupported: ["zipkin"],
  });
  assert.deepEqual(telemetryPlan({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_TRACES_EXPORTER: "none" }), { ...none, metrics: ["otlp"] });
  assert.deepEqual(telemetryPlan({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SDK_DISABLED: true }), none);
});

test("startTelemetry without OTEL_* settings registers nothing", async () => {
  const telemetry = await startTelemetry({});
  assert.equal(telemetry.enabled, false);
  assert.equal(trace.getTracer("probe").startSpan("probe").isRecording(), false);
  assert.equal(metrics.getMeterProvider().constructor.name, "NoopMeterProvider");
  await telemetry.shutdown();
});

describeCli();

/** `herald start` with an OTLP endpoint exports the command's trace, SQL spans and metrics. */
function describeCli(): void {
  let database: TestDatabase<any>;
  let nc: NatsConnection;
  let receiver: OtlpReceiver;
  const domain = uniqueDomain("otel");
  before(async () => {
    database = await createTestDatabase();
    await migrateApp(database.db, bankApp);
    nc = await connectSharedNats();
    receiver = await startOtlpReceiver();
  });
  after(async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(`${domain.toUpperCase()}_EVENTS`).catch(() => undefined);
    await nc.close();
    await receiver.close();
    await database.drop();
  });

  test("herald start exports traces and metrics to the OTLP endpoint", async () => {
    const worker = spawnCli(["start", "--domain", domain], {
      // From source, so the test needs no build.
      command: [process.execPath, "--import", "tsx", "src/cli/main.ts"],
      env: {
        DATABASE_URL: database.url,
        LOG_LEVEL: "warn",
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_METRIC_EXPORT_INTERVAL: "200",
        OTEL_BSP_SCHEDULE_DELAY: "100",
        OTEL_SERVICE_NAME: undefined,
        OTEL_RESOURCE_ATTRIBUTES: undefined,
        HERALD_OTEL_PG: "true",
      },
    });
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const clientSpanId = "00f067aa0ba902b7";
    try {
      await worker.waitForLine(/herald worker ready/, 60_000);
      const h = natsHeaders();
      h.set("Idempotency-Key", uniqueKey());
      h.set("traceparent", `00-${traceId}-${clientSpanId}-01`);
      const body = JSON.stringify({ accountId: "otel", owner: "O", initialBalance: 1 });
      const reply = (await nc.request(`${domain}.cmd.open_account`, body, { headers: h, timeout: 10_000 })).json<any>();
      assert.equal(reply.status, "committed");
      await waitFor(() => receiver.metricNames().has("herald.commands"), { what: "exported metrics", timeoutMs: 20_000 });
    } finally {
      worker.child.kill("SIGTERM");
    }
    assert.equal(await worker.stopped(20_000), 0, worker.stderr());

    const spans = receiver.spans().filter((s) => s.traceId === traceId);
    const processSpan = spans.find((s) => s.name === `process ${domain}.cmd.open_account`);
    assert.ok(processSpan, `process span exported; got ${spans.map((s) => s.name).join(", ")}`);
    assert.equal(processSpan.parentSpanId, clientSpanId);
    assert.equal(processSpan.service, `herald-${domain}`);
    const attempt = spans.find((s) => s.name === "transaction" && s.parentSpanId === processSpan.spanId);
    assert.equal(attempt?.attributes["db.system.name"], "postgresql");
    assert.ok(spans.some((s) => s.parentSpanId === attempt!.spanId && s.name.startsWith("pg.query")), "SQL statements traced (HERALD_OTEL_PG)");
    assert.ok(spans.some((s) => s.name === `publish ${domain}.evt.account_opened`));
    for (const name of ["herald.commands", "herald.command.duration", "herald.transaction.attempts", "herald.publish.lag", "herald.outbox.pending"]) {
      assert.ok(receiver.metricNames().has(name), `${name} exported`);
    }
  });
}
