import assert from "node:assert/strict";
import { test } from "node:test";
import { createThroughputClimber, type ThroughputClimber } from "../../src/commands/throughput-climber.js";

const WINDOW = 100;

/** A climber on a clock the test moves, and a way to run windows of load through it. */
function harness(max: number) {
  let clock = 0;
  const climber = createThroughputClimber({ max, windowMs: WINDOW, now: () => clock });
  /**
   * Runs `windows` windows: in each, `rateAt(setting)` commands per ms are
   * answered at the setting in force (in ten batches), with every slot busy
   * when `saturated`. Returns the setting of each window.
   */
  function run(windows: number, rateAt: (setting: number) => number, opts: { saturated?: boolean; ceiling?: number } = {}): number[] {
    const settings: number[] = [];
    for (let w = 0; w < windows; w++) {
      const setting = climber.current(opts.ceiling ?? max);
      settings.push(setting);
      for (let b = 0; b < 10; b++) {
        if (opts.saturated ?? true) climber.waited();
        clock += WINDOW / 10;
        climber.finished((rateAt(setting) * WINDOW) / 10);
      }
    }
    return settings;
  }
  return { climber, run };
}

/** The setting seen most often in `settings`. */
function mode(settings: number[]): number {
  const counts = new Map<number, number>();
  for (const s of settings) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]![0];
}

/** Deterministic noise in [-amplitude, amplitude]. */
function noise(seed: number, amplitude: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return (x / 2147483648 - 0.5) * 2 * amplitude;
  };
}

test("it starts at its maximum, so an idle worker starts a transaction at once", () => {
  const { climber } = harness(10);
  assert.equal(climber.current(10), 10);
});

test("when fewer transactions give more commands per second (a CPU-bound machine), it climbs down to the best setting and stays there", () => {
  const { run } = harness(10);
  // Peak at 3: fewer, larger batches win until too few transactions leave the database idle.
  const rate = (s: number) => 10 - Math.abs(s - 3);
  const settings = run(200, rate);
  const late = settings.slice(50);
  assert.equal(mode(late), 3, `settings: ${late.join(",")}`);
  const away = late.filter((s) => Math.abs(s - 3) > 1).length;
  assert.equal(away, 0, "never further than one step from the best once found");
  assert.ok(late.filter((s) => s === 3).length / late.length >= 0.7, "most windows at the best setting; the rest re-measure its neighbours");
});

test("when more transactions give more (a database a network hop away), it stays at the top", () => {
  const { run } = harness(10);
  const settings = run(100, (s) => s * 2);
  assert.equal(mode(settings.slice(20)), 10, `settings: ${settings.join(",")}`);
});

test("a flat rate goes to fewer transactions: the same throughput with larger batches costs less", () => {
  const { run } = harness(10);
  const settings = run(100, () => 5);
  assert.equal(mode(settings.slice(50)), 1);
});

test("with ±5 % noise on every window it still settles near the best setting", () => {
  const { run } = harness(10);
  const jitter = noise(42, 0.05);
  const rate = (s: number) => (10 - Math.abs(s - 4) * 1.5) * (1 + jitter());
  const late = run(300, rate).slice(100);
  const near = late.filter((s) => Math.abs(s - 4) <= 1).length / late.length;
  assert.ok(near >= 0.8, `share of windows within one step of 4: ${near.toFixed(2)}; settings ${late.join(",")}`);
});

test("a worker whose slots are never all busy goes back to the maximum and forgets what it measured", () => {
  const { run } = harness(10);
  run(60, () => 5); // flat, saturated: down to one
  const idle = run(15, () => 1, { saturated: false });
  assert.equal(idle.at(-1), 10, `back up one per window: ${idle.join(",")}`);
  // Measured afresh: now more transactions help, and it stays high.
  const again = run(60, (s) => s);
  assert.equal(mode(again.slice(20)), 10);
});

test("the conflict-driven cap is a ceiling it never exceeds, and it moves below it", () => {
  const { climber, run } = harness(10);
  const settings = run(100, (s) => s * 2, { ceiling: 4 });
  assert.ok(settings.every((s) => s <= 4), `settings: ${settings.join(",")}`);
  assert.equal(mode(settings.slice(20)), 4);
  assert.equal(climber.current(2), 2, "a lower ceiling applies at once");
});

test("windows with nothing answered count as a zero rate (every batch conflicted), so that setting loses", () => {
  const { run } = harness(6);
  const settings = run(120, (s) => (s >= 4 ? 0 : s));
  assert.equal(mode(settings.slice(40)), 3, `settings: ${settings.join(",")}`);
});

test("a climber that is never fed stays where it is (no timer of its own)", () => {
  const { climber } = harness(5);
  const c: ThroughputClimber = climber;
  assert.equal(c.current(5), 5);
  assert.equal(c.current(5), 5);
});
