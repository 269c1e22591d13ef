import assert from "node:assert/strict";
import { test } from "node:test";
import { createAdaptiveLimit } from "../../src/commands/adaptive-limit.js";
import { DeadlineExpiredError, raceDeadline } from "../../src/commands/command-deadline.js";

test("the limit bounds concurrency, shrinks on conflicts and grows back on clean commits", async () => {
  const limit = createAdaptiveLimit({ max: 4, min: 1, decrease: 0.7 });
  let active = 0;
  let peak = 0;
  const gates: Array<() => void> = [];
  const task = () =>
    limit.run(async () => {
      active++;
      peak = Math.max(peak, active);
      await new Promise<void>((resolve) => gates.push(resolve));
      active--;
    });
  const running = Array.from({ length: 10 }, task);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(active, 4, "no more than max at once");
  for (let i = 0; i < 3; i++) limit.conflicted();
  assert.equal(limit.current, 1, "4 * 0.7^3 rounds down to 1");
  // Releasing the running four admits only one more while the limit is 1.
  for (const open of gates.splice(0)) open();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(active, 1);
  for (let i = 0; i < 30; i++) limit.succeeded();
  assert.equal(limit.current, 4, "clean commits bring it back to max");
  while (gates.length > 0 || active > 0) {
    for (const open of gates.splice(0)) open();
    await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(running);
  assert.equal(peak, 4);
  assert.equal(limit.current, 4);
});

test("the limit never drops below min and a failing task frees its slot", async () => {
  const limit = createAdaptiveLimit({ max: 2, min: 2 });
  for (let i = 0; i < 10; i++) limit.conflicted();
  assert.equal(limit.current, 2);
  await assert.rejects(limit.run(async () => {
    throw new Error("boom");
  }));
  assert.equal(await limit.run(async () => 7), 7);
});

test("a caller whose deadline passes while it waits for a slot leaves the queue at once and never runs", async () => {
  const limit = createAdaptiveLimit({ max: 1 });
  let release!: () => void;
  const holder = limit.run(() => new Promise<void>((resolve) => (release = resolve)));
  let ran = false;
  const race = raceDeadline(Date.now() + 30, (deadline) => limit.run(async () => void (ran = true), deadline), (outcome) => outcome);
  assert.equal(await race.answer, "unavailable", "answered at its deadline while queued");
  await assert.rejects(race.work.then(() => limit.run(async () => undefined, race.deadline)), DeadlineExpiredError, "an expired caller is refused at once");
  release();
  await holder;
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(ran, false, "the slot that freed did not go to the expired caller");
  assert.equal(await limit.run(async () => "next"), "next", "the slot is free for the next caller");
});
