import assert from "node:assert/strict";
import { after, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { sql } from "kysely";
import { ensureStream } from "../../src/messaging/stream.js";
import { fromNatsHeaders } from "../../src/messaging/nats-headers.js";
import { injectTraceContext } from "../../src/telemetry/propagation.js";
import { createHarness } from "../kit/harness.js";
import { waitFor } from "../kit/wait.js";
import { installTestTelemetry, sumWhere } from "./otel-kit.js";

const otel = installTestTelemetry();
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

test("a publish the relay makes after the stream came back links to the command's trace", async () => {
  const h = await createHarness();
  cleanups.push(() => h.close());
  const worker = await h.startWorker({ publishTimeoutMs: 1000, outbox: { intervalMs: 50, graceMs: 100 } });
  await h.send("open_account", { accountId: "r1", owner: "R", initialBalance: 50 });

  const jsm = await jetstreamManager(h.nc);
  await jsm.streams.delete(worker.stream);
  const client = trace.getTracer("test-client").startSpan(`send ${h.domain}.cmd.deposit`, { kind: SpanKind.CLIENT });
  const carrier = natsHeaders();
  injectTraceContext(carrier, trace.setSpan(context.active(), client));
  const reply = await h.send("deposit", { accountId: "r1", amount: 1 }, { headers: fromNatsHeaders(carrier) });
  client.end();
  assert.equal(reply.body.status, "committed");
  const traceId = client.spanContext().traceId;
  const subject = `${h.domain}.evt.deposited`;

  // The worker's own attempt fails inside the command's trace.
  const process = await waitFor(() => otel.traceSpans(traceId).find((s) => s.name === `process ${h.domain}.cmd.deposit`), { what: "process span" });
  const failedPublish = otel.traceSpans(traceId).find((s) => s.name === `publish ${subject}`);
  assert.equal(failedPublish?.status.code, SpanStatusCode.ERROR);
  assert.equal(failedPublish?.parentSpanContext?.spanId, process.spanContext().spanId);

  await ensureStream(jsm, { name: worker.stream, subjects: [`${h.domain}.evt.>`] });
  const relayed = await waitFor(
    () => otel.spans.getFinishedSpans().find((s) => s.name === `publish ${subject}` && s.attributes["herald.relayed"] === true && s.status.code !== SpanStatusCode.ERROR),
    { what: "the relay's publish span", timeoutMs: 30_000 },
  );
  assert.equal(relayed.kind, SpanKind.PRODUCER);
  assert.equal(relayed.parentSpanContext, undefined, "the relay's publish starts its own trace");
  assert.notEqual(relayed.spanContext().traceId, traceId);
  assert.equal(relayed.links.length, 1);
  assert.equal(relayed.links[0]!.context.traceId, traceId, "linked to the command's trace");
  assert.equal(relayed.links[0]!.context.spanId, process.spanContext().spanId, "at the worker's process span");
  assert.equal(relayed.attributes["messaging.message.id"], reply.body.events[0].id);
  assert.equal(relayed.attributes["herald.command.id"], reply.body.commandId);

  // Published marks are written shortly after the PubAck (they are grouped).
  const unpublished = async () => Number((await sql<{ n: number }>`SELECT count(*) AS n FROM herald_outbox WHERE published_at IS NULL`.execute(h.database.db)).rows[0]!.n);
  await waitFor(async () => (await unpublished()) === 0, { what: "the relayed event marked published" });
  // The metrics tell the same story: one failure on the direct path, lag recorded for the relayed one.
  assert.ok(sumWhere(await otel.points("herald.publish.failures"), { "herald.domain": h.domain, "herald.relayed": false }) >= 1);
  assert.ok(sumWhere(await otel.points("herald.publish.lag"), { "herald.domain": h.domain, "herald.relayed": true }) >= 1);
});
