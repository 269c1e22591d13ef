import { readFile, writeFile } from "node:fs/promises";

/** One 10 s sample of the soak. */
export interface SoakSample {
  /** Seconds since the hold began. */
  t: number;
  /** Requests sent per second in the window. */
  sentPerSec: number;
  /** Committed replies per second in the window. */
  committedPerSec: number;
  /** p99 latency of the window's committed replies, ms (null: none). */
  p99Ms: number | null;
  /** Resident memory of each process, MiB, by role and index (`worker1`, `worker2`, `consumer`). */
  rssMb: Record<string, number>;
  /** Worst event-loop delay p99 of the processes in the window, ms. */
  eventLoopP99Ms: number;
  /** Connections in use, all processes. */
  poolInUse: number;
  /** Unpublished events in the outbox. */
  outboxBacklog: number;
  /** Error replies and failed requests in the window. */
  errors: number;
}

export interface SoakVerdict {
  pass: boolean;
  /** One line per check, with its figures. */
  checks: Array<{ name: string; pass: boolean; detail: string }>;
}

/** Least-squares slope of y over x. */
export function slope(points: ReadonlyArray<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  return sxx === 0 ? 0 : sxy / sxx;
}

/**
 * Flat memory: the least-squares slope of each process's per-minute peak RSS
 * over the second half (past warm-up) stays under `maxSlopeMbPerMin`; no leaked slots: pool and in-flight back to zero at rest;
 * p99 of every minute after the first within 2× of the first minute's.
 */
export function judge(
  samples: readonly SoakSample[],
  firstMinuteP99: number | null,
  laterMinuteP99s: ReadonlyArray<number | null>,
  atRest: { poolInUse: number; waiting: number; inFlight: number; backlog: number },
  maxSlopeMbPerMin: number,
): SoakVerdict {
  const checks: SoakVerdict["checks"] = [];
  // V8 grows its heap in a sawtooth (a major compaction drops RSS, it grows again):
  // a leak shows as rising peaks, so fit the per-minute maxima of the second half.
  const lastT = samples[samples.length - 1]?.t ?? 0;
  const minuteMax = (role: string) => {
    const byMinute = new Map<number, number>();
    for (const s of samples) byMinute.set(Math.floor((s.t - 1) / 60), Math.max(byMinute.get(Math.floor((s.t - 1) / 60)) ?? 0, s.rssMb[role] ?? 0));
    return [...byMinute.entries()];
  };
  const fromMinute = Math.floor(lastT / 60 / 2) >= 2 ? Math.floor(lastT / 60 / 2) : 1;
  for (const role of Object.keys(samples[0]?.rssMb ?? {})) {
    const points = minuteMax(role).filter(([m]) => m >= fromMinute) as Array<[number, number]>;
    const perMin = slope(points);
    checks.push({
      name: `flat memory (${role})`,
      pass: perMin <= maxSlopeMbPerMin,
      detail: `slope of the per-minute peak RSS from minute ${fromMinute} on: ${perMin.toFixed(2)} MiB/min (bound ${maxSlopeMbPerMin})`,
    });
  }
  const leaked = atRest.poolInUse + atRest.waiting + atRest.inFlight;
  checks.push({
    name: "no leaked slots",
    pass: leaked === 0 && atRest.backlog === 0,
    detail: `at rest: ${atRest.poolInUse} connection(s) in use, ${atRest.waiting} waiting, ${atRest.inFlight} in flight, ${atRest.backlog} unpublished event(s)`,
  });
  const worst = Math.max(0, ...laterMinuteP99s.map((p) => p ?? 0));
  const p99ok = firstMinuteP99 !== null && laterMinuteP99s.every((p) => p !== null && p <= 2 * firstMinuteP99);
  checks.push({ name: "p99 within 2x of the first minute", pass: p99ok, detail: `first minute ${firstMinuteP99 ?? "n/a"} ms, worst later minute ${worst} ms` });
  return { pass: checks.every((c) => c.pass), checks };
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

/** A small SVG with one panel per metric, sharing the time axis. */
export function renderSoakChart(samples: readonly SoakSample[]): string {
  const roles = Object.keys(samples[0]?.rssMb ?? {});
  const panels: Array<{ title: string; series: Array<{ name: string; values: number[] }> }> = [
    { title: "RSS (MiB)", series: roles.map((r) => ({ name: r, values: samples.map((s) => s.rssMb[r] ?? 0) })) },
    { title: "p99 latency (ms)", series: [{ name: "p99", values: samples.map((s) => s.p99Ms ?? 0) }] },
    { title: "event-loop delay p99 (ms)", series: [{ name: "worst process", values: samples.map((s) => s.eventLoopP99Ms) }] },
    { title: "pool in use / outbox backlog", series: [
      { name: "connections in use", values: samples.map((s) => s.poolInUse) },
      { name: "unpublished events", values: samples.map((s) => s.outboxBacklog) },
    ] },
  ];
  const colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
  const W = 720, PH = 150, L = 60, R = 160, T = 30;
  const tMax = Math.max(1, samples[samples.length - 1]?.t ?? 1);
  const x = (t: number) => L + ((W - L - R) * t) / tMax;
  let out = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${T + panels.length * (PH + 30)}" font-family="sans-serif" font-size="11">`;
  out += `<text x="${L}" y="18" font-size="13">Herald soak: ${Math.round(tMax / 60)} min at 50% of measured peak</text>`;
  panels.forEach((panel, i) => {
    const top = T + i * (PH + 30) + 15;
    const yMax = Math.max(1, ...panel.series.flatMap((s) => s.values)) * 1.1;
    const y = (v: number) => top + PH - (PH * v) / yMax;
    out += `<text x="${L}" y="${top - 4}">${esc(panel.title)}</text>`;
    out += `<rect x="${L}" y="${top}" width="${W - L - R}" height="${PH}" fill="none" stroke="#999"/>`;
    out += `<text x="${L - 4}" y="${top + 4}" text-anchor="end">${yMax.toFixed(yMax < 10 ? 1 : 0)}</text><text x="${L - 4}" y="${top + PH}" text-anchor="end">0</text>`;
    panel.series.forEach((s, j) => {
      const d = s.values.map((v, k) => `${k ? "L" : "M"}${x(samples[k]!.t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      out += `<path d="${d}" fill="none" stroke="${colors[j % colors.length]}" stroke-width="1.5"/>`;
      out += `<text x="${W - R + 8}" y="${top + 12 + j * 14}" fill="${colors[j % colors.length]}">${esc(s.name)}</text>`;
    });
    out += `<text x="${W - R}" y="${top + PH + 12}" text-anchor="end">${Math.round(tMax)} s</text>`;
  });
  return `${out}</svg>\n`;
}

/** The markdown written between the soak markers of docs/reliability.md. */
export function renderSoakMarkdown(run: { date: string; minutes: number; peakPerSec: number; ratePerSec: number; machine: string }, samples: readonly SoakSample[], verdict: SoakVerdict): string {
  const lines = [
    `Run of ${run.date}: ${run.minutes} min on ${run.machine}; measured peak ${run.peakPerSec} commits/s, held at ${run.ratePerSec} requests/s (50%).`,
    `Result: **${verdict.pass ? "pass" : "FAIL"}**.`,
    "",
    ...verdict.checks.map((c) => `- ${c.pass ? "pass" : "FAIL"}: ${c.name}: ${c.detail}`),
    "",
    "![soak chart](soak.svg)",
    "",
    `| t (min) | sent/s | committed/s | p99 ms | ${Object.keys(samples[0]?.rssMb ?? {}).map((r) => `RSS ${r} MiB`).join(" | ")} | event-loop p99 ms | pool in use | outbox backlog | errors |`,
    `| --- | --- | --- | --- | ${Object.keys(samples[0]?.rssMb ?? {}).map(() => "---").join(" | ")} | --- | --- | --- | --- |`,
  ];
  // One row a minute (the minute's last sample) keeps a 30-minute table readable.
  const minute = (t: number) => Math.floor((t - 1) / 60);
  const rows = samples.filter((s, i) => i === samples.length - 1 || minute(s.t) !== minute(samples[i + 1]!.t));
  for (const s of rows) {
    lines.push(`| ${(s.t / 60).toFixed(1)} | ${s.sentPerSec} | ${s.committedPerSec} | ${s.p99Ms ?? "n/a"} | ${Object.values(s.rssMb).join(" | ")} | ${s.eventLoopP99Ms} | ${s.poolInUse} | ${s.outboxBacklog} | ${s.errors} |`);
  }
  return lines.join("\n");
}

/** Replaces what lies between `<!-- soak:begin -->` and `<!-- soak:end -->`. */
export async function writeBetweenMarkers(file: string, body: string): Promise<void> {
  const text = await readFile(file, "utf8");
  const begin = "<!-- soak:begin -->";
  const end = "<!-- soak:end -->";
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${file} has no ${begin} … ${end} section`);
  await writeFile(file, `${text.slice(0, a + begin.length)}\n${body}\n${text.slice(b)}`);
}
