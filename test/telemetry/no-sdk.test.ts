import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, test } from "node:test";
import { context, metrics, trace } from "@opentelemetry/api";
import { createLogger } from "../../src/telemetry/logger.js";
import { heraldInstruments } from "../../src/telemetry/metrics.js";
import { tracer } from "../../src/telemetry/tracing.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { readStream } from "../kit/stream.js";
import { waitFor } from "../kit/wait.js";

// No SDK is registered in this process: Herald's instrumentation must be inert and harmless.
let h: Harness;
const logLines: Array<Record<string, unknown>> = [];
const logSink = new Writable({
  write(chunk, _enc, done) {
    for (const line of String(chunk).split("\n")) if (line.trim()) logLines.push(JSON.parse(line));
    done();
  },
});

before(async () => {
  h = await createHarness();
  await h.startWorker({ logger: createLogger({ level: "debug", destination: logSink }) });
});
after(() => h.close());

test("with no SDK nothing records, and the request's trace context is kept as it came", async () => {
  const span = tracer.startSpan("probe");
  assert.equal(span.isRecording(), false);
  span.end();
  assert.equal(trace.getActiveSpan(), undefined);
  // The instruments are the API's no-ops; recording on them is allowed and does nothing.
  heraldInstruments(metrics.getMeterProvider()).commands.add(1, { probe: true });

  const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const tracestate = "vendor=opaque";
  const reply = await h.send("open_account", { accountId: "x", owner: "X", initialBalance: 3 }, { headers: { traceparent, tracestate } });
  assert.equal(reply.body.status, "committed");
  const untraced = await h.send("deposit", { accountId: "x", amount: 1 });
  assert.equal(untraced.body.status, "committed");
  assert.equal((await h.send("transfer", { from: "x", to: "nobody", amount: 1 })).body.status, "rejected");

  // Stored ids and event headers come from the incoming traceparent, as without tracing.
  const rows = await h.database.db.selectFrom("herald_commands").select(["id", "trace_id", "span_id"]).execute();
  const traced = rows.find((r: { id: string }) => r.id === reply.body.commandId);
  assert.deepEqual({ ...traced, id: undefined }, { id: undefined, trace_id: "4bf92f3577b34da6a3ce929d0e0e4736", span_id: "00f067aa0ba902b7" });
  const plain = rows.find((r: { id: string }) => r.id === untraced.body.commandId);
  assert.equal(plain?.trace_id, null);
  const events = await waitFor(async () => {
    const m = await readStream(h.nc, `${h.domain.toUpperCase()}_EVENTS`);
    return m.length === 2 ? m : undefined;
  }, { what: "both events" });
  const opened = events.find((m) => m.headers["ce-id"] === reply.body.events[0].id)!;
  assert.equal(opened.headers.traceparent, traceparent);
  assert.equal(opened.headers.tracestate, tracestate);
  assert.equal(events.find((m) => m.headers["ce-id"] === untraced.body.events[0].id)!.headers.traceparent, undefined);

  // Log lines carry no trace fields when nothing is traced.
  const logger = createLogger({ level: "info", destination: logSink });
  context.with(context.active(), () => logger.info({ probe: 1 }, "probe"));
  const probe = logLines.find((l) => l.msg === "probe")!;
  assert.equal(probe.trace_id, undefined);
  assert.equal(probe.span_id, undefined);
  assert.ok(logLines.every((l) => l.trace_id === undefined));
});
