import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { judge, renderSoakChart, renderSoakMarkdown, slope, writeBetweenMarkers, type SoakSample } from "./soak-report.js";

// The soak's verdict decides a 30-minute run: check it on made-up series.
const REST = { poolInUse: 0, waiting: 0, inFlight: 0, backlog: 0 };
const series = (minutes: number, rss: (t: number) => number): SoakSample[] =>
  Array.from({ length: minutes * 6 }, (_, i) => {
    const t = (i + 1) * 10;
    return { t, sentPerSec: 100, committedPerSec: 100, p99Ms: 20, rssMb: { worker1: rss(t) }, eventLoopP99Ms: 5, poolInUse: 1, outboxBacklog: 0, errors: 0 };
  });

test("slope is the least-squares slope", () => {
  assert.equal(slope([[0, 1], [1, 3], [2, 5]]), 2);
  assert.equal(slope([[0, 4]]), 0);
});

test("a steady leak fails; a GC sawtooth with flat peaks passes", () => {
  const leak = judge(series(30, (t) => 100 + t / 60), 20, [20, 20], REST, 0.5);
  assert.equal(leak.pass, false);
  assert.match(leak.checks[0]!.detail, /1\.00 MiB\/min/);
  // Grows 10 MiB within each minute, drops back at the minute's end: peaks stay level.
  const sawtooth = judge(series(30, (t) => 100 + ((t % 60) / 60) * 10), 20, [20, 20], REST, 0.5);
  assert.equal(sawtooth.pass, true, JSON.stringify(sawtooth.checks));
});

test("a leaked slot or a p99 beyond 2x of the first minute fails", () => {
  const flat = series(5, () => 100);
  assert.equal(judge(flat, 20, [20, 39], REST, 0.5).pass, true);
  assert.equal(judge(flat, 20, [20, 41], REST, 0.5).pass, false);
  assert.equal(judge(flat, 20, [null], REST, 0.5).pass, false, "a minute without a commit fails");
  assert.equal(judge(flat, 20, [20], { ...REST, inFlight: 1 }, 0.5).pass, false);
  assert.equal(judge(flat, 20, [20], { ...REST, backlog: 3 }, 0.5).pass, false);
});

test("the report replaces only the section between its markers, and refuses a file without them", async () => {
  const dir = await mkdtemp(join(tmpdir(), "herald-soak-"));
  try {
    const file = join(dir, "r.md");
    await writeFile(file, "before\n<!-- soak:begin -->\nold\n<!-- soak:end -->\nafter\n");
    const samples = series(3, () => 100);
    const verdict = judge(samples, 20, [20, 20], REST, 0.5);
    await writeBetweenMarkers(file, renderSoakMarkdown({ date: "d", minutes: 3, peakPerSec: 200, ratePerSec: 100, machine: "m" }, samples, verdict));
    const text = await readFile(file, "utf8");
    assert.match(text, /^before\n<!-- soak:begin -->\nRun of d: 3 min/);
    assert.match(text, /\| 3\.0 \| 100 \| 100 \| 20 \| 100 \| 5 \| 1 \| 0 \| 0 \|\n<!-- soak:end -->\nafter\n$/);
    assert.ok(!text.includes("old"));
    assert.match(renderSoakChart(samples), /^<svg [^>]+>.*<\/svg>\n$/s);
    await writeFile(file, "no markers");
    await assert.rejects(writeBetweenMarkers(file, "x"), /no <!-- soak:begin -->/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
