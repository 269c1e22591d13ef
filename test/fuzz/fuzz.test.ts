import assert from "node:assert/strict";
import { before, test } from "node:test";
import { mib } from "../kit/process-memory.js";
import { randomSeed } from "./prng.js";
import { formatReport, fuzzSession, RSS_CEILING, RSS_MARGIN, type SessionReport } from "./session.js";

/**
 * Short mode of the fuzzer (docs/reliability.md): 2,000 generated bad requests
 * and valid traffic against a worker process. A fresh seed each run, printed;
 * replay a failure with `node --import tsx test/fuzz/run.ts --seed <seed> --requests 2000`.
 * The session cleans up after itself (worker, stream, database) even when it throws.
 */

const REQUESTS = 2000;
const seed = randomSeed();
let report: SessionReport;

const explain = (problems: string[]) => `seed ${seed}: ${problems.length} problem(s)\n${problems.slice(0, 20).join("\n")}`;

before(async () => {
  report = await fuzzSession({ seed, requests: REQUESTS });
  for (const line of formatReport(report)) console.log(line);
});

test(`every request gets the reply the protocol prescribes, never a timeout (seed ${seed})`, () => {
  assert.equal(report.run.sent, REQUESTS);
  assert.equal(report.run.tally.timeout ?? 0, 0, "no request timed out");
  assert.deepEqual(report.problems.replies, [], explain(report.problems.replies));
});

test("the bad requests stored nothing; the valid ones exactly their own effects", () => {
  assert.deepEqual(report.problems.state, [], explain(report.problems.state));
  // The stored rows are the valid requests plus the valid-shaped rejections, nothing else.
  assert.equal(report.run.storedKeys.size, report.run.valid + report.run.storedRejections);
});

test("the worker's memory stays bounded and returns to its baseline", () => {
  const { rss } = report;
  assert.deepEqual(report.problems.memory, [], explain(report.problems.memory));
  assert.ok(rss.peak < RSS_CEILING, `peak ${mib(rss.peak)}`);
  assert.ok(rss.after <= rss.start + RSS_MARGIN, `after ${mib(rss.after)}, start ${mib(rss.start)}`);
});

test("the worker never exits and still serves after the run", () => {
  assert.deepEqual(report.problems.process, [], explain(report.problems.process));
});

test("the run exercised every kind of bad input and every error code", () => {
  const { tally, kinds } = report.run;
  for (const label of [
    "committed", "duplicate", "rejected:account_not_found", "error:invalid_json", "error:invalid_command",
    "error:missing_idempotency_key", "error:invalid_idempotency_key", "error:unknown_command", "error:payload_too_large",
    "error:idempotency_key_reused", "no_responders",
  ]) {
    assert.ok((tally[label] ?? 0) > 0, `no ${label} reply in ${JSON.stringify(tally)}`);
  }
  for (const kind of [
    "header:invalid", "header:none", "header:empty", "header:duplicated", "header:valid", "body:random-bytes", "body:truncated",
    "body:nested", "body:huge-string", "body:bad-number", "body:wrong-type", "body:proto-key", "body:invalid-utf8", "body:size",
    "unknown-subject", "unknown-account", "key-reuse", "replay",
  ]) {
    assert.ok((kinds[kind] ?? 0) > 0, `no ${kind} request in ${JSON.stringify(kinds)}`);
  }
  assert.equal(tally["error:internal"] ?? 0, 0, "no request made the worker fail");
  assert.equal(tally["error:overloaded"] ?? 0, 0, "the fuzz load stays under the in-flight limit");
});
