import assert from "node:assert/strict";
import { test } from "node:test";
import { createBatcher } from "../../src/commands/batcher.js";

/** A batcher whose runs finish when the test says so. */
function harness(maxBatch: number, maxRunning: number) {
  const runs: Array<{ items: string[]; finish: () => void }> = [];
  const batcher = createBatcher<string>({
    maxBatch,
    maxRunning: () => maxRunning,
    keyOf: (item) => item.split("#")[0]!,
    run: (items) => new Promise<void>((resolve) => runs.push({ items, finish: resolve })),
  });
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return { batcher, runs, settle };
}

test("an item that finds nothing running starts alone at once", () => {
  const { batcher, runs } = harness(4, 2);
  batcher.submit("a");
  assert.deepEqual(runs.map((r) => r.items), [["a"]]);
  assert.equal(batcher.running(), 1);
});

test("items arriving while every slot is busy wait and go together, one key once", async () => {
  const { batcher, runs, settle } = harness(5, 1);
  batcher.submit("a");
  for (const item of ["b", "c", "b#2", "d"]) batcher.submit(item);
  assert.equal(runs.length, 1, "no free slot: they wait");
  runs[0]!.finish();
  await settle();
  assert.deepEqual(runs[1]!.items, ["b", "c", "d"], "the same key twice never shares a batch");
  runs[1]!.finish();
  await settle();
  assert.deepEqual(runs[2]!.items, ["b#2"]);
});

test("a free slot starts at once; up to maxRunning transactions run side by side", () => {
  const { batcher, runs } = harness(2, 2);
  for (const item of ["a", "b", "c", "d", "e", "f", "g"]) batcher.submit(item);
  assert.deepEqual(runs.map((r) => r.items), [["a"], ["b"]]);
  assert.equal(batcher.queued(), 5, "maxRunning reached: the rest waits");
});

test("a freed slot takes its share of the queue: the queue split over all the slots, at most maxBatch", async () => {
  const { batcher, runs, settle } = harness(4, 3);
  for (const item of ["a", "b", "c"]) batcher.submit(item);
  for (const item of ["d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n"]) batcher.submit(item);
  runs[0]!.finish();
  await settle();
  assert.deepEqual(runs[3]!.items, ["d", "e", "f", "g"], "11 over 3 slots is 4 each");
  runs[1]!.finish();
  await settle();
  assert.deepEqual(runs[4]!.items, ["h", "i", "j"], "7 over 3 slots is 3");
  runs[2]!.finish();
  await settle();
  assert.deepEqual(runs[5]!.items, ["k", "l"]);
  assert.equal(batcher.queued(), 2, "the rest waits for a slot");
});

test("requeued items go to the head of the queue", async () => {
  const { batcher, runs, settle } = harness(4, 1);
  batcher.submit("a");
  batcher.submit("b");
  batcher.requeue(["x", "y"]);
  runs[0]!.finish();
  await settle();
  assert.deepEqual(runs[1]!.items, ["x", "y", "b"]);
});

test("a batch holds at most maxBatchBytes of items; an item larger than that goes alone", async () => {
  const runs: string[][] = [];
  const finishers: Array<() => void> = [];
  const batcher = createBatcher<string>({
    maxBatch: 10,
    maxBatchBytes: 10,
    sizeOf: (item) => Number(item.split(":")[1]),
    maxRunning: () => 1,
    keyOf: (item) => item,
    run: (items) => new Promise<void>((resolve) => (runs.push(items), finishers.push(resolve))),
  });
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  batcher.submit("first:1");
  for (const item of ["a:4", "b:4", "c:4", "big:25", "d:2"]) batcher.submit(item);
  for (let i = 0; i < 5 && finishers[i]; i++) {
    finishers[i]!();
    await settle();
  }
  assert.deepEqual(runs, [["first:1"], ["a:4", "b:4", "d:2"], ["c:4"], ["big:25"]]);
  for (const r of runs) {
    const bytes = r.reduce((n, item) => n + Number(item.split(":")[1]), 0);
    assert.ok(r.length === 1 || bytes <= 10, `${r.join(",")} holds ${bytes} bytes`);
  }
});

test("remove takes a waiting item out of the queue, and only a waiting one", () => {
  const batcher = createBatcher<string>({ maxBatch: 4, maxRunning: () => 1, keyOf: (i) => i, run: () => new Promise<void>(() => undefined) });
  batcher.submit("running");
  batcher.submit("waiting");
  assert.equal(batcher.remove("waiting"), true);
  assert.equal(batcher.queued(), 0);
  assert.equal(batcher.remove("running"), false, "a running item is not in the queue");
});

test("onFull tells when items are left waiting because every allowed transaction runs, and only then", () => {
  let full = 0;
  const runs: Array<() => void> = [];
  const batcher = createBatcher<string>({
    maxBatch: 4,
    maxRunning: () => 2,
    keyOf: (item) => item,
    run: () => new Promise<void>((resolve) => runs.push(resolve)),
    onFull: () => full++,
  });
  batcher.submit("a");
  batcher.submit("b");
  assert.equal(full, 0, "two slots, two items: nothing waits");
  batcher.submit("c");
  assert.equal(full, 1, "the third waits for a slot");
  assert.equal(batcher.queued(), 1);
});
