import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { createClient } from "../../src/client/client.js";
import { consume } from "../../src/consumer/index.js";
import { fromNatsHeaders } from "../../src/messaging/nats-headers.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { injectTraceContext } from "../../src/telemetry/propagation.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { readStream } from "../kit/stream.js";
import { waitFor } from "../kit/wait.js";
import { childrenOf, installTestTelemetry, sumWhere } from "./otel-kit.js";

const otel = installTestTelemetry();
const clientTracer = trace.getTracer("test-client");
const logLines: Array<Record<string, any>> = [];
const logSink = new Writable({
  write(chunk, _enc, done) {
    for (const line of String(chunk).split("\n")) if (line.trim()) logLines.push(JSON.parse(line));
    done();
  },
});

let h: Harness;
const ACCOUNTS = ["hot_a", "hot_b", "hot_c"];

before(async () => {
  h = await createHarness();
  const logger = createLogger({ level: "debug", destination: logSink });
  // A generous retry budget: the point is to see retries, not to exhaust them on a busy machine.
  // The deadline stays under the 30 s request timeout, so every request gets an answer.
  const retry = { maxAttempts: 200, deadlineMs: 20_000 };
  await h.startWorker({ logger, retry });
  await h.startWorker({ logger, retry });
});
after(() => h.close());

/** Sends a command inside a CLIENT span whose context travels in the request headers. */
async function sendTraced(command: string, body: unknown, key?: string) {
  const span = clientTracer.startSpan(`send ${h.domain}.cmd.${command}`, { kind: SpanKind.CLIENT });
  const carrier = natsHeaders();
  injectTraceContext(carrier, trace.setSpan(context.active(), span));
  try {
    const reply = await h.send(command, body, { headers: fromNatsHeaders(carrier), ...(key ? { key } : {}) });
    return { reply, client: span.spanContext() };
  } finally {
    span.end();
  }
}

const named = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);

test("one trace: client span, worker process span, transaction attempt, handler, publish", async () => {
  const { reply, client } = await sendTraced("open_account", { accountId: "solo", owner: "Solo", initialBalance: 5 });
  assert.equal(reply.body.status, "committed");
  const eventSubject = `${h.domain}.evt.account_opened`;
  const spans = await waitFor(() => {
    const s = otel.traceSpans(client.traceId);
    return named(s, `publish ${eventSubject}`).length === 1 && s.some((x) => x.name.startsWith("process ")) ? s : undefined;
  }, { what: "the command's spans" });

  const [process] = named(spans, `process ${h.domain}.cmd.open_account`);
  assert.ok(process, "the worker's process span is in the client's trace");
  assert.equal(process.kind, SpanKind.SERVER);
  assert.equal(process.parentSpanContext?.spanId, client.spanId, "child of the client's span");
  assert.equal(process.attributes["messaging.system"], "nats");
  assert.equal(process.attributes["messaging.destination.name"], `${h.domain}.cmd.open_account`);
  assert.equal(process.attributes["messaging.operation.type"], "process");
  assert.equal(process.attributes["herald.command.id"], reply.body.commandId);
  assert.equal(process.attributes["herald.idempotency_key"], reply.body.idempotencyKey);
  assert.equal(process.attributes["herald.outcome"], "committed");
  assert.equal(process.attributes["herald.duplicate"], false);

  const attempts = named(childrenOf(spans, process), "transaction");
  assert.equal(attempts.length, 1);
  assert.equal(attempts[0]!.kind, SpanKind.CLIENT);
  assert.equal(attempts[0]!.attributes["db.system.name"], h.database.dialect);
  assert.equal(attempts[0]!.attributes["herald.attempt"], 1);
  const [handler] = childrenOf(spans, attempts[0]!);
  assert.equal(handler?.name, `handle ${h.domain}.cmd.open_account`);

  const [publish] = named(spans, `publish ${eventSubject}`);
  assert.equal(publish!.kind, SpanKind.PRODUCER);
  assert.equal(publish!.parentSpanContext?.spanId, process.spanContext().spanId, "published within the process span");
  assert.equal(publish!.attributes["messaging.message.id"], reply.body.events[0].id);
  assert.equal(publish!.attributes["herald.relayed"], false);
  assert.equal(typeof publish!.attributes["herald.stream.sequence"], "number");

  // The stored command and the event point at the worker's span, so consumers link to it.
  const row = await h.database.db.selectFrom("herald_commands").select(["trace_id", "span_id"]).where("id", "=", reply.body.commandId).executeTakeFirstOrThrow();
  assert.deepEqual(row, { trace_id: client.traceId, span_id: process.spanContext().spanId });
  const stored = (await readStream(h.nc, `${h.domain.toUpperCase()}_EVENTS`)).find((m) => m.headers["ce-id"] === reply.body.events[0].id);
  assert.equal(stored?.headers.traceparent, `00-${client.traceId}-${process.spanContext().spanId}-01`);

  // A replay is its own process span, marked duplicate, with the same command id.
  const again = await sendTraced("open_account", { accountId: "solo", owner: "Solo", initialBalance: 5 }, reply.body.idempotencyKey);
  assert.equal(again.reply.body.duplicate, true);
  const replay = await waitFor(() => otel.traceSpans(again.client.traceId).find((s) => s.name.startsWith("process ")));
  assert.equal(replay.attributes["herald.duplicate"], true);
  assert.equal(replay.attributes["herald.outcome"], "duplicate");
  assert.equal(replay.attributes["herald.command.id"], reply.body.commandId);
});

test("under contention a command's trace holds several attempts, retry events and the failed attempts' SQLSTATE", async () => {
  for (const id of ACCOUNTS) assert.equal((await h.send("open_account", { accountId: id, owner: id, initialBalance: 1000 })).body.status, "committed");
  const clients: Array<{ traceId: string; status: string; code?: string }> = [];
  let next = 0;
  const pick = (i: number) => ACCOUNTS[i % ACCOUNTS.length]!;
  await Promise.all(
    Array.from({ length: 30 }, async () => {
      for (let i = next++; i < 150; i = next++) {
        const { reply, client } = await sendTraced("transfer", { from: pick(i), to: pick(i + 1 + (i % 2)), amount: 1 + ((i * 37) % 300) });
        clients.push({ traceId: client.traceId, status: reply.body.status, code: reply.body.error?.code });
      }
    }),
  );
  const odd = clients.filter((c) => c.status === "error" && c.code !== "unavailable");
  assert.deepEqual(odd, [], "transfers settle (or, on an overloaded machine, run out of retries)");

  const settled = clients.filter((c) => c.status !== "error");
  assert.ok(settled.length > 0);
  // The process span ends after the events are published, a moment after the reply.
  const processName = `process ${h.domain}.cmd.transfer`;
  await waitFor(() => settled.every((c) => otel.traceSpans(c.traceId).some((s) => s.name === processName)), { what: "every process span ended" });
  const retried = settled
    .map((c) => otel.traceSpans(c.traceId))
    .map((spans) => ({ spans, process: spans.find((s) => s.name === processName)! }))
    .filter(({ spans, process }) => named(childrenOf(spans, process), "transaction").length > 1);
  assert.ok(retried.length > 0, "some commands needed more than one attempt");
  for (const { spans, process } of retried) {
    const attempts = named(childrenOf(spans, process), "transaction").sort((a, b) => Number(a.attributes["herald.attempt"]) - Number(b.attributes["herald.attempt"]));
    const failed = attempts.slice(0, -1);
    for (const a of failed) {
      assert.equal(a.status.code, SpanStatusCode.ERROR, "a failed attempt's span is an error");
      assert.equal(typeof a.attributes["db.response.status_code"], "string", `SQLSTATE of a failed attempt: ${JSON.stringify(a.attributes)}`);
    }
    assert.notEqual(attempts.at(-1)!.status.code, SpanStatusCode.ERROR, "the last attempt settled the command");
    const retries = process.events.filter((e) => e.name === "retry");
    assert.equal(retries.length, failed.length, "one retry event per failed attempt");
    assert.deepEqual(retries.map((e) => e.attributes?.["db.response.status_code"]), failed.map((a) => a.attributes["db.response.status_code"]));
  }
  const sqlStates = new Set(retried.flatMap(({ process }) => process.events.map((e) => e.attributes?.["db.response.status_code"])));
  assert.ok(sqlStates.has("40001"), `serialization failures recorded, saw ${[...sqlStates].join(",")}`);

  // Log lines written inside the process span carry its ids, the command id and key, no payload.
  const retryLogs = logLines.filter((l) => l.msg === "transaction retry");
  assert.ok(retryLogs.length > 0, "retries were logged");
  const byTrace = new Map(retried.map(({ process }) => [process.spanContext().traceId, process]));
  const joined = retryLogs.filter((l) => byTrace.has(l.trace_id));
  assert.ok(joined.length > 0, "retry logs join their traces");
  for (const line of joined) {
    assert.equal(line.span_id, byTrace.get(line.trace_id)!.spanContext().spanId);
    assert.equal(line.commandId, byTrace.get(line.trace_id)!.attributes["herald.command.id"]);
    assert.equal(typeof line.idempotencyKey, "string");
    assert.equal(line.from ?? line.amount ?? line.payload, undefined, "no payload in logs");
  }
  assert.ok(logLines.filter((l) => !l.trace_id).every((l) => l.msg !== "transaction retry"), "every retry log is within a span");
});

test("end to end: the client's send span, the worker, and the consumer's span linked to the worker", async () => {
  const app = clientTracer.startSpan("checkout");
  const client = createClient(h.nc, { domain: h.domain });
  const reply = await context.with(trace.setSpan(context.active(), app), () =>
    client.sendRaw("open_account", { accountId: "e2e", owner: "E", initialBalance: 7 }),
  );
  app.end();
  assert.equal(reply.status, "committed");
  const eventId = reply.status === "committed" ? reply.events[0]!.id : "";
  const traceId = app.spanContext().traceId;

  const handled: string[] = [];
  const consumer = await consume({
    nc: h.nc,
    domain: h.domain,
    durable: "trace_e2e",
    filter: `${h.domain}.evt.account_opened`,
    handle(event) {
      handled.push(event.id);
    },
  });
  const processed = await waitFor(
    () => otel.spans.getFinishedSpans().find((s) => s.kind === SpanKind.CONSUMER && s.attributes["messaging.message.id"] === eventId),
    { what: "the consumer's span" },
  );

  const spans = otel.traceSpans(traceId);
  const send = spans.find((s) => s.name === `send ${h.domain}.cmd.open_account`);
  assert.ok(send, "the client's send span is in the app's trace");
  assert.equal(send.kind, SpanKind.CLIENT);
  assert.equal(send.parentSpanContext?.spanId, app.spanContext().spanId);
  assert.equal(send.attributes["herald.command.id"], reply.commandId);
  assert.equal(send.attributes["herald.outcome"], "committed");
  const process = await waitFor(() => otel.traceSpans(traceId).find((s) => s.name === `process ${h.domain}.cmd.open_account`));
  assert.equal(process.parentSpanContext?.spanId, send.spanContext().spanId, "the worker's span is the send span's child");

  assert.equal(processed.name, `process ${h.domain}.evt.account_opened`);
  assert.notEqual(processed.spanContext().traceId, traceId, "the consumer works in its own trace");
  assert.equal(processed.links.length, 1);
  assert.equal(processed.links[0]!.context.traceId, traceId, "linked to the command's trace");
  assert.equal(processed.links[0]!.context.spanId, process.spanContext().spanId, "at the worker's process span");
  assert.equal(processed.attributes["messaging.consumer.group.name"], "trace_e2e");
  assert.equal(processed.attributes["herald.command.id"], reply.commandId);
  assert.equal(processed.attributes["herald.outcome"], "processed");
  assert.ok(handled.includes(eventId));

  // A poison message is dead-lettered: its span says so, and so does the counter.
  await jetstream(h.nc).publish(`${h.domain}.evt.account_opened`, new TextEncoder().encode("not json"));
  const poisoned = await waitFor(
    () => otel.spans.getFinishedSpans().find((s) => s.kind === SpanKind.CONSUMER && s.attributes["herald.outcome"] === "dead_lettered"),
    { what: "the dead-lettered span" },
  );
  assert.equal(poisoned.status.code, SpanStatusCode.ERROR);
  assert.equal(poisoned.links.length, 0, "nothing to link to");
  await consumer.stop();

  const consumerAttrs = { "herald.domain": h.domain, "messaging.consumer.group.name": "trace_e2e" };
  assert.equal(sumWhere(await otel.points("herald.consumer.dead_letters"), consumerAttrs), 1);
  assert.ok(sumWhere(await otel.points("herald.consumer.lag"), consumerAttrs) >= 1, "consumer lag recorded");
  assert.equal((await otel.points("herald.consumer.pending")).find((p) => p.attributes["messaging.consumer.group.name"] === "trace_e2e")?.value, 0);
});
