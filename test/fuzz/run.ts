/**
 * Long mode of the fuzzer (docs/reliability.md):
 *
 *   node --import tsx test/fuzz/run.ts --requests 30000 [--seed N] [--concurrency 32] [--include-known-issues]
 *
 * Same runner and checks as test/fuzz/fuzz.test.ts; exits 1 if any invariant failed.
 * Needs DATABASE_URL and NATS_URL like the tests, and a built dist (`npm run build`).
 */
import { parseArgs } from "node:util";
import { randomSeed } from "./prng.js";
import { allProblems, formatReport, fuzzSession } from "./session.js";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "30000" },
    seed: { type: "string" },
    concurrency: { type: "string", default: "32" },
    "include-known-issues": { type: "boolean", default: true },
  },
  strict: true,
});

const int = (name: string, text: string | undefined): number => {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) {
    process.stderr.write(`--${name} must be a non-negative integer, got ${text}\n`);
    process.exit(2);
  }
  return n;
};

const seed = values.seed === undefined ? randomSeed() : int("seed", values.seed);
const requests = int("requests", values.requests);
console.log(`fuzz: seed ${seed} (replay with --seed ${seed} --requests ${requests})`);
const report = await fuzzSession({
  seed,
  requests,
  concurrency: Math.max(1, int("concurrency", values.concurrency)),
  includeKnownIssues: values["include-known-issues"],
  log: (line) => console.log(line),
});
for (const line of formatReport(report)) console.log(line);
process.exitCode = allProblems(report).length === 0 ? 0 : 1;
