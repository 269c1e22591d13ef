import assert from "node:assert/strict";
import { test } from "node:test";
import { createTransactionCap, type TransactionCap } from "../../src/commands/transaction-cap.js";

/** Feeds `n` batch outcomes, one conflict every `every` batches (0: none). */
function feed(cap: TransactionCap, n: number, every = 0): void {
  for (let i = 1; i <= n; i++) {
    if (every > 0 && i % every === 0) cap.conflicted();
    else cap.committed();
  }
}

test("the cap starts at its maximum and stays there while batches commit", () => {
  const cap = createTransactionCap({ max: 8 });
  assert.equal(cap.current, 8);
  feed(cap, 500);
  assert.equal(cap.current, 8, "never above max");
});

test("a few conflicts among many commits leave the cap alone: some overlap is the price of parallelism", () => {
  const cap = createTransactionCap({ max: 8 });
  feed(cap, 400, 8);
  assert.equal(cap.current, 8, "one batch in eight conflicting stays under the 25 % threshold");
});

test("a high conflict rate shrinks the cap, never below one; once calm it grows back by one per round", () => {
  const cap = createTransactionCap({ max: 8 });
  feed(cap, 200, 2);
  assert.equal(cap.current, 1, "half the batches conflicting: down to one");
  feed(cap, 12);
  assert.ok(cap.current === 1, "the moving average takes a few batches to calm down");
  feed(cap, 200);
  assert.equal(cap.current, 8, "conflict-free again: back to the maximum");
});

test("a growth undone at once makes the next one wait longer (the penalty), up to maxPenalty rounds", () => {
  const cap = createTransactionCap({ max: 4, maxPenalty: 4 });
  /** Twenty conflicts in a row, then the batches committed at cap 1 until it grows to 2. */
  const cycle = () => {
    for (let i = 0; i < 20; i++) cap.conflicted();
    assert.equal(cap.current, 1);
    let n = 0;
    while (cap.current === 1 && n < 1000) {
      cap.committed();
      n++;
    }
    assert.equal(cap.current, 2);
    return n;
  };
  const waits = [cycle(), cycle(), cycle(), cycle()];
  assert.ok(waits[1]! > waits[0]!, `the second growth waited longer: ${waits.join(", ")}`);
  assert.ok(waits[2]! > waits[1]!, `the third longer still: ${waits.join(", ")}`);
  assert.equal(waits[3], waits[2], `the penalty stops at maxPenalty: ${waits.join(", ")}`);
});
