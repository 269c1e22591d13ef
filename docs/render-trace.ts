/**
 * Renders one real command trace as a waterfall SVG (docs/trace-example.svg).
 *
 * Sends ONE `transfer` through the client to an in-process worker, consumes its
 * event, collects the spans with an in-memory exporter and draws them: the
 * command's trace (send → process → transaction → handle, publish) and the
 * consumer's span, which lives in its own trace and links back to the worker.
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres NATS_URL=nats://127.0.0.1:4222 \
 *     node --import tsx docs/render-trace.ts
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { hrTimeToMilliseconds } from "@opentelemetry/core";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { openAccount, transfer } from "../examples/bank/index.js";
import { createClient } from "../src/client/client.js";
import { consume } from "../src/consumer/index.js";
import { createHarness } from "../test/kit/harness.js";
import { waitFor } from "../test/kit/wait.js";
import { installTestTelemetry } from "../test/telemetry/otel-kit.js";

// Before any worker starts: instruments and tracers bind to the global providers.
const otel = installTestTelemetry();

const OUTPUT = join(dirname(fileURLToPath(import.meta.url)), "trace-example.svg");
const KEY_ATTRIBUTES = ["messaging.destination.name", "herald.outcome", "db.system.name"] as const;

/** One rendered row: a span, its depth in the tree, and whether it belongs to the linked (consumer) trace. */
interface Row {
  span: ReadableSpan;
  depth: number;
  linked: boolean;
}

const startMs = (s: ReadableSpan) => hrTimeToMilliseconds(s.startTime);
const endMs = (s: ReadableSpan) => hrTimeToMilliseconds(s.endTime);
const durationMs = (s: ReadableSpan) => hrTimeToMilliseconds(s.duration);
const kindName = (s: ReadableSpan) => SpanKind[s.kind];
const spanId = (s: ReadableSpan) => s.spanContext().spanId;

/** Depth-first rows of a set of spans: roots (no parent inside the set) first, children by start time. */
function treeRows(spans: ReadableSpan[], linked: boolean): Row[] {
  const ids = new Set(spans.map(spanId));
  const byStart = (a: ReadableSpan, b: ReadableSpan) => startMs(a) - startMs(b);
  const rows: Row[] = [];
  const visit = (span: ReadableSpan, depth: number) => {
    rows.push({ span, depth, linked });
    for (const child of spans.filter((s) => s.parentSpanContext?.spanId === spanId(span)).sort(byStart)) visit(child, depth + 1);
  };
  for (const root of spans.filter((s) => !s.parentSpanContext || !ids.has(s.parentSpanContext.spanId)).sort(byStart)) visit(root, 0);
  return rows;
}

function keyAttributes(span: ReadableSpan): string[] {
  return KEY_ATTRIBUTES.filter((k) => span.attributes[k] !== undefined).map((k) => `${k}=${String(span.attributes[k])}`);
}

function textTree(rows: Row[], t0: number): string {
  return rows
    .map(({ span, depth }) => {
      const attrs = keyAttributes(span);
      const links = span.links.map((l) => `link→${l.context.spanId}`);
      return (
        `${"  ".repeat(depth)}${span.name} [${kindName(span)}] ${durationMs(span).toFixed(2)} ms @+${(startMs(span) - t0).toFixed(2)} ms` +
        (attrs.length || links.length ? `  {${[...attrs, ...links].join(", ")}}` : "")
      );
    })
    .join("\n");
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const KIND_COLORS: Record<string, string> = {
  CLIENT: "#4c78a8",
  SERVER: "#54a24b",
  PRODUCER: "#f58518",
  CONSUMER: "#b279a2",
  INTERNAL: "#9d9d9d",
};

/** A "nice" tick step (1, 2 or 5 × 10^n) giving about `target` ticks over `span` ms. */
function tickStep(span: number, target = 6): number {
  const raw = span / target;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const n = raw / pow;
  return (n < 1.5 ? 1 : n < 3.5 ? 2 : n < 7.5 ? 5 : 10) * pow;
}

function renderSvg(traceId: string, commandRows: Row[], linkedTraceId: string | undefined, linkedRows: Row[]): string {
  const width = 1000;
  const labelWidth = 470;
  const barX = labelWidth + 10;
  const barWidth = width - barX - 24;
  const rowH = 40;
  const attrLineH = 13;
  const top = 78;
  const indent = 16;
  const separatorH = linkedRows.length ? 30 : 0;

  const all = [...commandRows, ...linkedRows];
  const t0 = Math.min(...commandRows.map((r) => startMs(r.span)));
  const tEnd = Math.max(...all.map((r) => endMs(r.span)));
  const total = Math.max(tEnd - t0, 0.001);
  const x = (ms: number) => barX + ((ms - t0) / total) * barWidth;

  const rowY = new Map<string, number>();
  let y = top;
  const body: string[] = [];
  const rowHeight = (span: ReadableSpan) => rowH + attrLineH * keyAttributes(span).length;
  const emitRow = (row: Row, index: number) => {
    const { span, depth } = row;
    const h = rowHeight(span);
    rowY.set(spanId(span), y);
    const kind = kindName(span);
    const color = KIND_COLORS[kind] ?? KIND_COLORS.INTERNAL!;
    const error = span.status.code === SpanStatusCode.ERROR;
    const bx = x(startMs(span));
    const bw = Math.max(x(endMs(span)) - bx, 2);
    const lx = 12 + depth * indent;
    if (index % 2 === 0) body.push(`<rect x="0" y="${y}" width="${width}" height="${h}" fill="#f6f8fa"/>`);
    if (depth > 0) {
      // Elbow from the parent's column to this row's label.
      body.push(`<path d="M${lx - indent + 4} ${y - 8} V${y + 14} H${lx - 3}" fill="none" stroke="#c0c4c8" stroke-width="1"/>`);
    }
    body.push(
      `<text x="${lx}" y="${y + 17}" class="name">${esc(span.name)}</text>`,
      `<text x="${lx}" y="${y + 31}" class="attrs"><tspan fill="${color}" font-weight="600">${kind}</tspan> · ${durationMs(span).toFixed(2)} ms</text>`,
      ...keyAttributes(span).map((a, i) => `<text x="${lx + 8}" y="${y + 31 + attrLineH * (i + 1)}" class="attr">${esc(a)}</text>`),
      `<rect x="${bx.toFixed(1)}" y="${y + 10}" width="${bw.toFixed(1)}" height="20" rx="3" fill="${color}"${error ? ` stroke="#d62728" stroke-width="2"` : ""}/>`,
    );
    const label = `${durationMs(span).toFixed(2)} ms`;
    const inside = bw > 52;
    const labelX = inside ? bx + 5 : bx + bw + 5 > width - 70 ? bx - 5 : bx + bw + 5;
    const anchor = !inside && labelX < bx ? "end" : "start";
    body.push(`<text x="${labelX.toFixed(1)}" y="${y + 24}" class="dur" text-anchor="${anchor}" fill="${inside ? "#fff" : "#333"}">${label}</text>`);
    y += h;
  };
  commandRows.forEach(emitRow);
  if (linkedRows.length) {
    body.push(
      `<line x1="0" y1="${y + separatorH / 2}" x2="${width}" y2="${y + separatorH / 2}" stroke="#d0d4d8" stroke-dasharray="2 3"/>`,
      `<text x="12" y="${y + separatorH / 2 - 4}" class="attrs">linked trace ${esc(linkedTraceId ?? "")} (the consumer works in its own trace)</text>`,
    );
    y += separatorH;
    linkedRows.forEach((row, i) => emitRow(row, commandRows.length + i));
  }
  const bottom = y;

  // Dashed connectors: from the linked-to span's bar to the span carrying the link.
  const connectors: string[] = [];
  for (const { span } of all) {
    for (const link of span.links) {
      const fromY = rowY.get(link.context.spanId);
      const from = all.find((r) => spanId(r.span) === link.context.spanId)?.span;
      const toY = rowY.get(spanId(span));
      if (fromY === undefined || toY === undefined || !from) continue;
      const x1 = x(endMs(from));
      const y1 = fromY + 20;
      // Into the top of the linking span's bar, a few pixels past its start.
      const x2 = x(startMs(span)) + 4;
      const y2 = toY + 8;
      const midY = (y1 + y2) / 2;
      const midX = (x1 + x2) / 2;
      connectors.push(
        `<path d="M${x1.toFixed(1)} ${y1} C${x1.toFixed(1)} ${midY} ${x2.toFixed(1)} ${midY} ${x2.toFixed(1)} ${y2}" fill="none" stroke="#b279a2" stroke-width="1.5" stroke-dasharray="5 4" marker-end="url(#arrow)"/>`,
        `<circle cx="${x1.toFixed(1)}" cy="${y1}" r="3" fill="#b279a2"/>`,
        midX + 70 < width
          ? `<text x="${(midX + 8).toFixed(1)}" y="${midY + 4}" class="attrs" fill="#b279a2">span link</text>`
          : `<text x="${(midX - 8).toFixed(1)}" y="${midY + 4}" class="attrs" text-anchor="end" fill="#b279a2">span link</text>`,
      );
    }
  }

  // Time axis: ticks and grid lines.
  const step = tickStep(total);
  const axis: string[] = [`<line x1="${barX}" y1="${top - 6}" x2="${barX + barWidth}" y2="${top - 6}" stroke="#888"/>`];
  for (let t = 0; t <= total + 1e-9; t += step) {
    const tx = barX + (t / total) * barWidth;
    axis.push(
      `<line x1="${tx.toFixed(1)}" y1="${top - 10}" x2="${tx.toFixed(1)}" y2="${bottom}" stroke="#e3e6e9"/>`,
      `<text x="${tx.toFixed(1)}" y="${top - 14}" class="tick" text-anchor="middle">${Number(t.toFixed(3))} ms</text>`,
    );
  }

  const legendY = bottom + 22;
  const legend = Object.entries(KIND_COLORS)
    .filter(([k]) => all.some((r) => kindName(r.span) === k))
    .map(([k, c], i) => `<rect x="${12 + i * 110}" y="${legendY - 10}" width="12" height="12" rx="2" fill="${c}"/><text x="${30 + i * 110}" y="${legendY}" class="attrs">${k}</text>`);
  const linkLegendX = 12 + legend.length * 110;
  legend.push(
    `<line x1="${linkLegendX}" y1="${legendY - 4}" x2="${linkLegendX + 30}" y2="${legendY - 4}" stroke="#b279a2" stroke-width="1.5" stroke-dasharray="5 4"/>`,
    `<text x="${linkLegendX + 36}" y="${legendY}" class="attrs">span link (consumer → worker's process span)</text>`,
  );
  const height = legendY + 18;

  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">
<style>
  .title { font-size: 16px; font-weight: 600; fill: #222; }
  .sub { font-size: 12px; fill: #555; }
  .name { font-size: 12.5px; fill: #222; }
  .attrs { font-size: 10.5px; fill: #666; }
  .attr { font-size: 10.5px; fill: #666; font-family: Menlo, Consolas, monospace; }
  .tick { font-size: 10px; fill: #777; }
  .dur { font-size: 10.5px; font-weight: 600; }
</style>
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0 0 L10 5 L0 10 z" fill="#b279a2"/></marker></defs>
<rect width="${width}" height="${height}" fill="#fff"/>
<text x="12" y="24" class="title">Herald command trace: one bank transfer</text>
<text x="12" y="44" class="sub">trace ${esc(traceId)} · ${commandRows.length} spans + ${linkedRows.length} linked · ${total.toFixed(2)} ms · span start times have 1 ms resolution</text>
${axis.join("\n")}
${body.join("\n")}
${connectors.join("\n")}
${legend.join("\n")}
</svg>
`;
}

async function main() {
  const h = await createHarness();
  const durable = `render_${randomBytes(4).toString("hex")}`;
  const stream = `${h.domain.toUpperCase()}_EVENTS`;
  let consumer: Awaited<ReturnType<typeof consume>> | undefined;
  try {
    await h.startWorker();
    const client = createClient(h.nc, { domain: h.domain });
    await client.send(openAccount, { accountId: "alice", owner: "Alice", initialBalance: 100 });
    await client.send(openAccount, { accountId: "bob", owner: "Bob", initialBalance: 0 });

    const reply = await client.send(transfer, { from: "alice", to: "bob", amount: 25 });
    if (reply.status !== "committed") throw new Error(`transfer not committed: ${JSON.stringify(reply)}`);
    const eventId = reply.events[0]!.id;

    consumer = await consume({
      nc: h.nc,
      domain: h.domain,
      durable,
      filter: `${h.domain}.evt.transferred`,
      handle() {},
    });

    const sendName = `send ${h.domain}.cmd.transfer`;
    const send = await waitFor(
      () => otel.spans.getFinishedSpans().find((s) => s.name === sendName && s.attributes["herald.command.id"] === reply.commandId),
      { what: "the client's send span" },
    );
    const traceId = send.spanContext().traceId;
    const consumerSpan = await waitFor(
      () => otel.spans.getFinishedSpans().find((s) => s.kind === SpanKind.CONSUMER && s.attributes["messaging.message.id"] === eventId),
      { what: "the consumer's span" },
    );
    // The worker's process span ends after its publish; wait for both.
    const commandSpans = await waitFor(() => {
      const spans = otel.traceSpans(traceId);
      return spans.some((s) => s.name === `process ${h.domain}.cmd.transfer`) && spans.some((s) => s.kind === SpanKind.PRODUCER) ? spans : undefined;
    }, { what: "the worker's spans" });
    const linkedTraceId = consumerSpan.spanContext().traceId;
    const linkedSpans = otel.traceSpans(linkedTraceId);

    const commandRows = treeRows(commandSpans, false);
    const linkedRows = treeRows(linkedSpans, true);
    const t0 = Math.min(...commandSpans.map(startMs));
    console.log(`trace ${traceId}`);
    console.log(textTree(commandRows, t0));
    console.log(`linked trace ${linkedTraceId}`);
    console.log(textTree(linkedRows, t0));

    writeFileSync(OUTPUT, renderSvg(traceId, commandRows, linkedTraceId, linkedRows));
    console.log(`wrote ${join("docs", "trace-example.svg")}`);
  } finally {
    await consumer?.stop().catch(() => undefined);
    const jsm = await jetstreamManager(h.nc).catch(() => undefined);
    await jsm?.consumers.delete(stream, durable).catch(() => undefined);
    await h.close();
  }
}

await main();
