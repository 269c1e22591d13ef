/**
 * The results chart as a hand-written SVG (no chart dependency): one row per
 * scenario, throughput and p99 latency against concurrency, the comparators as
 * lines. Both axes are logarithmic: the ceiling runs orders of magnitude above
 * anything with a database, and concurrency grows by powers of two.
 */
import { COMPARATORS, type Comparator, type Scenario } from "./options.js";
import { clientLevels, findRun, throughput, type BenchResults } from "./results.js";

const COLORS: Record<Comparator, string> = { ceiling: "#6b7280", glue: "#d97706", herald: "#2563eb" };
const LABELS: Record<Comparator, string> = { ceiling: "ceiling (bare NATS, no database)", glue: "hand-written glue (pg + NATS)", herald: "Herald" };
const WIDTH = 960;
const PANEL_H = 280;
const TOP = 78;
const MARGIN = { left: 70, right: 24, top: 34, bottom: 46 };
const PANEL_W = WIDTH / 2;

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const text = (x: number, y: number, s: string, attrs = "") => `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${esc(s)}</text>`;
const fmt = (v: number) => (v >= 1000 ? `${+(v / 1000).toFixed(1)}k` : `${+v.toPrecision(2)}`);

type Metric = { title: string; unit: string; value: (results: BenchResults, scenario: Scenario, clients: number, c: Comparator) => number | null };
const METRICS: Metric[] = [
  { title: "Throughput", unit: "committed commands/s", value: (r, s, n, c) => throughput(findRun(r, s, n, c)) },
  { title: "p99 latency", unit: "ms", value: (r, s, n, c) => findRun(r, s, n, c)?.load?.latencyMs.p99 ?? null },
];

/** Powers of ten covering [min, max], with 2x and 5x steps when the range is narrow. */
function logTicks(min: number, max: number): { lo: number; hi: number; ticks: number[] } {
  const lo = 10 ** Math.floor(Math.log10(min));
  const hi = 10 ** Math.ceil(Math.log10(max));
  const ticks: number[] = [];
  const decades = Math.round(Math.log10(hi / lo));
  for (let d = lo; d <= hi * 1.0001; d *= 10) for (const m of decades <= 2 ? [1, 2, 5] : [1]) if (d * m <= hi * 1.0001) ticks.push(d * m);
  return { lo, hi, ticks };
}

function panel(results: BenchResults, scenario: Scenario, metric: Metric, x0: number, y0: number): string {
  const levels = clientLevels(results, scenario);
  const overload = scenario === "uniform" ? results.runs.find((r) => r.scenario === "overload" && r.completed) : undefined;
  const xs = overload ? [...levels, overload.clients] : levels;
  const series = COMPARATORS.map((c) => ({ c, points: levels.map((n) => ({ n, v: metric.value(results, scenario, n, c) })).filter((p) => p.v !== null && p.v > 0) as { n: number; v: number }[] }));
  const extra = overload ? (metric.title === "Throughput" ? throughput(overload) : overload.load?.latencyMs.p99 ?? null) : null;
  const values = [...series.flatMap((s) => s.points.map((p) => p.v)), ...(extra ? [extra] : [])];
  const w = PANEL_W - MARGIN.left - MARGIN.right;
  const h = PANEL_H - MARGIN.top - MARGIN.bottom;
  const left = x0 + MARGIN.left;
  const top = y0 + MARGIN.top;
  const out: string[] = [text(left, y0 + 20, `${scenario}: ${metric.title}`, 'font-size="14" font-weight="600"')];
  out.push(`<rect x="${left}" y="${top}" width="${w}" height="${h}" fill="#fafafa" stroke="#d1d5db"/>`);
  if (values.length === 0 || xs.length === 0) return [...out, text(left + w / 2, top + h / 2, "no data", 'text-anchor="middle" fill="#6b7280"')].join("\n");
  const xMin = Math.log2(Math.min(...xs));
  const xMax = Math.log2(Math.max(...xs));
  const px = (n: number) => left + (xMax === xMin ? w / 2 : ((Math.log2(n) - xMin) / (xMax - xMin)) * (w - 40) + 20);
  const { lo, hi, ticks } = logTicks(Math.min(...values), Math.max(...values));
  const py = (v: number) => top + h - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo) || 1)) * h;
  for (const t of ticks) {
    out.push(`<line x1="${left}" x2="${left + w}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" stroke="#e5e7eb"/>`);
    out.push(text(left - 6, py(t) + 4, fmt(t), 'text-anchor="end" font-size="11" fill="#374151"'));
  }
  for (const n of xs) {
    out.push(`<line x1="${px(n).toFixed(1)}" x2="${px(n).toFixed(1)}" y1="${top + h}" y2="${top + h + 5}" stroke="#374151"/>`);
    out.push(text(px(n), top + h + 18, String(n), 'text-anchor="middle" font-size="11" fill="#374151"'));
  }
  out.push(text(left + w / 2, top + h + 36, "concurrent clients (log scale)", 'text-anchor="middle" font-size="11" fill="#374151"'));
  out.push(text(x0 + 16, top + h / 2, `${metric.unit} (log)`, `text-anchor="middle" font-size="11" fill="#374151" transform="rotate(-90 ${x0 + 16} ${top + h / 2})"`));
  for (const { c, points } of series) {
    if (points.length === 0) continue;
    const d = points.map((p, i) => `${i ? "L" : "M"}${px(p.n).toFixed(1)},${py(p.v).toFixed(1)}`).join(" ");
    out.push(`<path d="${d}" fill="none" stroke="${COLORS[c]}" stroke-width="2.2"/>`);
    for (const p of points) out.push(`<circle cx="${px(p.n).toFixed(1)}" cy="${py(p.v).toFixed(1)}" r="3.5" fill="${COLORS[c]}"><title>${esc(`${c}, ${p.n} clients: ${fmt(p.v)} ${metric.unit}`)}</title></circle>`);
  }
  if (overload && extra) {
    const x = px(overload.clients);
    const y = py(extra);
    out.push(`<path d="M${x},${y - 6} L${x + 6},${y} L${x},${y + 6} L${x - 6},${y} Z" fill="white" stroke="${COLORS.herald}" stroke-width="2"/>`);
    out.push(text(x - 9, y - 9, "overload", 'text-anchor="end" font-size="10" fill="#1e3a8a"'));
  }
  return out.join("\n");
}

/** Committed/s against one-way database latency, 64 clients, row-level profile: glue and Herald. */
function latencyPanel(results: BenchResults, scenario: Scenario, x0: number, y0: number): string {
  const where = (latencyMs: number) => ({ profile: "rowlocks" as const, latencyMs });
  const latencies = [...new Set(results.runs.filter((r) => r.profile === "rowlocks" && typeof r.latencyMs === "number" && r.scenario === scenario && r.clients === 64).map((r) => r.latencyMs as number))].sort((a, b) => a - b);
  const series = (["glue", "herald"] as const).map((c) => ({ c, points: latencies.map((l) => ({ l, v: throughput(findRun(results, scenario, 64, c, where(l))) })).filter((p) => p.v !== null && p.v > 0) as { l: number; v: number }[] }));
  const values = series.flatMap((s) => s.points.map((p) => p.v));
  const w = PANEL_W - MARGIN.left - MARGIN.right;
  const h = PANEL_H - MARGIN.top - MARGIN.bottom;
  const left = x0 + MARGIN.left;
  const top = y0 + MARGIN.top;
  const out: string[] = [text(left, y0 + 20, `${scenario}, 64 clients, row-level locks: throughput vs DB latency`, 'font-size="14" font-weight="600"')];
  out.push(`<rect x="${left}" y="${top}" width="${w}" height="${h}" fill="#fafafa" stroke="#d1d5db"/>`);
  if (values.length === 0) return [...out, text(left + w / 2, top + h / 2, "no data", 'text-anchor="middle" fill="#6b7280"')].join("\n");
  const px = (l: number) => left + 20 + (latencies.length === 1 ? (w - 40) / 2 : (latencies.indexOf(l) / (latencies.length - 1)) * (w - 40));
  const { lo, hi, ticks } = logTicks(Math.min(...values), Math.max(...values));
  const py = (v: number) => top + h - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo) || 1)) * h;
  for (const t of ticks) {
    out.push(`<line x1="${left}" x2="${left + w}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" stroke="#e5e7eb"/>`);
    out.push(text(left - 6, py(t) + 4, fmt(t), 'text-anchor="end" font-size="11" fill="#374151"'));
  }
  for (const l of latencies) out.push(text(px(l), top + h + 18, `${l} ms`, 'text-anchor="middle" font-size="11" fill="#374151"'));
  out.push(text(left + w / 2, top + h + 36, "one-way database latency (through the delaying proxy)", 'text-anchor="middle" font-size="11" fill="#374151"'));
  out.push(text(x0 + 16, top + h / 2, "committed commands/s (log)", `text-anchor="middle" font-size="11" fill="#374151" transform="rotate(-90 ${x0 + 16} ${top + h / 2})"`));
  for (const { c, points } of series) {
    if (points.length === 0) continue;
    out.push(`<path d="${points.map((p, i) => `${i ? "L" : "M"}${px(p.l).toFixed(1)},${py(p.v).toFixed(1)}`).join(" ")}" fill="none" stroke="${COLORS[c]}" stroke-width="2.2"/>`);
    for (const p of points) out.push(`<circle cx="${px(p.l).toFixed(1)}" cy="${py(p.v).toFixed(1)}" r="3.5" fill="${COLORS[c]}"><title>${esc(`${c}, ${p.l} ms: ${fmt(p.v)}/s`)}</title></circle>`);
  }
  return out.join("\n");
}

export function renderChart(results: BenchResults): string {
  const scenarios = (["uniform", "contended"] as const).filter((s) => results.runs.some((r) => r.scenario === s && !r.profile));
  const latencyScenarios = (["uniform", "contended"] as const).filter((s) => results.runs.some((r) => r.scenario === s && r.profile === "rowlocks" && typeof r.latencyMs === "number" && r.clients === 64));
  const height = TOP + (Math.max(1, scenarios.length) + (latencyScenarios.length ? 1 : 0)) * PANEL_H + 30;
  const m = results.machine;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    text(20, 26, "Herald benchmark: bank transfers, closed-loop clients", 'font-size="17" font-weight="700"'),
    text(20, 46, `${results.date.slice(0, 10)}, ${results.mode} run, ${results.settings.durationS} s per point; ${m.cpuModel}, ${m.cores} cores; ${results.settings.database}`, 'font-size="12" fill="#374151"'),
  ];
  COMPARATORS.forEach((c, i) => {
    const x = 20 + i * 300;
    parts.push(`<line x1="${x}" x2="${x + 24}" y1="64" y2="64" stroke="${COLORS[c]}" stroke-width="3"/>`, text(x + 30, 68, LABELS[c], 'font-size="12"'));
  });
  scenarios.forEach((s, row) => METRICS.forEach((metric, col) => parts.push(panel(results, s, metric, col * PANEL_W, TOP + row * PANEL_H))));
  latencyScenarios.forEach((s, col) => parts.push(latencyPanel(results, s, col * PANEL_W, TOP + Math.max(1, scenarios.length) * PANEL_H)));
  parts.push(text(20, height - 10, "Generated by bench/report.ts from bench/results/latest.json.", 'font-size="10" fill="#6b7280"'), "</svg>");
  return `${parts.join("\n")}\n`;
}
