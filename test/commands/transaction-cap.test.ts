import assert from "node:assert/strict";
import { test } from "node:test";
import { createTransactionCap } from "../../src/commands/transaction-cap.js";

test("the cap starts at one and grows only after a run of conflict-free batches with demand", () => {
  const cap = createTransactionCap({ max: 3, growAfter: 4 });
  assert.equal(cap.current, 1);
  for (let i = 0; i < 10; i++) cap.committed(false);
  assert.equal(cap.current, 1, "no demand, no growth");
  for (let i = 0; i < 3; i++) cap.committed(true);
  assert.equal(cap.current, 1);
  cap.committed(true);
  assert.equal(cap.current, 2);
  for (let i = 0; i < 8; i++) cap.committed(true);
  assert.equal(cap.current, 3, "never above max");
});

test("a conflict halves the cap and doubles the wait before the next growth", () => {
  const cap = createTransactionCap({ max: 10, growAfter: 2, maxGrowAfter: 8 });
  for (let i = 0; i < 6; i++) cap.committed(true);
  assert.equal(cap.current, 4);
  cap.conflicted();
  assert.equal(cap.current, 2);
  cap.committed(true);
  cap.committed(true);
  cap.committed(true);
  assert.equal(cap.current, 2, "now it takes four");
  cap.committed(true);
  assert.equal(cap.current, 3);
  cap.conflicted();
  cap.conflicted();
  cap.conflicted();
  assert.equal(cap.current, 1, "never below one");
  for (let i = 0; i < 7; i++) cap.committed(true);
  assert.equal(cap.current, 1, "the wait is capped at maxGrowAfter (8), not 32");
  cap.committed(true);
  assert.equal(cap.current, 2);
});
