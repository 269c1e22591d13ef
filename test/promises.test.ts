import assert from "node:assert/strict";
import { access, readFile } from "node:fs/promises";
import { test } from "node:test";
import { RECOVERY_BOUNDS_MS } from "./faults/scenarios.js";

/** The README's Promises section and fault table must name tests that exist and bounds the tests hold. */

const readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
const section = (title: string) => readme.slice(readme.indexOf(`## ${title}`), readme.indexOf("\n## ", readme.indexOf(`## ${title}`) + 3));

test("every test file the Promises table names exists", async () => {
  const promises = section("Promises");
  const files = [...new Set([...promises.matchAll(/`(test\/[^`*]+\.test\.ts)`/g)].map((m) => m[1]!))];
  assert.ok(files.length >= 8, `the table names its tests (${files.length})`);
  for (const file of files) await access(new URL(`../${file}`, import.meta.url));
});

test("the fault table's recovery bounds are the ones the fault suite asserts", () => {
  const rows = section("Reliability").split("\n").filter((l) => /\(≤ \d+ s\)/.test(l));
  const bounds = rows.map((l) => Number(/\(≤ (\d+) s\)/.exec(l)![1]) * 1000);
  assert.deepEqual(bounds, [
    RECOVERY_BOUNDS_MS.killWorkers,
    RECOVERY_BOUNDS_MS.restartNats,
    RECOVERY_BOUNDS_MS.clusterNodeLoss,
    RECOVERY_BOUNDS_MS.databaseOutage,
    RECOVERY_BOUNDS_MS.slowDatabase,
  ]);
  const promised = section("Promises");
  assert.match(promised, /≤ 5 s after a `kill -9` \(the client's 4 s request timeout for the requests the killed worker held, then their retry\), ≤ 6 s after a NATS restart, ≤ 5 s after a cluster node loss or a database restart, ≤ 3 s after a 3 s stall/);
});
