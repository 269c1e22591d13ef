import assert from "node:assert/strict";
import { test } from "node:test";
import { spawnChild } from "../../bench/child.js";
import { createStatementProbe } from "../../bench/statement-probe.js";

// A process with the counter loaded that hands two queries (three statements) to pg's
// client; an unconnected client queues them, which is all the counter needs to see.
const SCRIPT = `
import pg from "pg";
const client = new pg.Client();
client.query("BEGIN; SELECT 'a;b'").catch(() => {});
process.stdin.once("data", () => { client.query({ text: "SELECT $1", values: [1] }).catch(() => {}); process.stdout.write("second\\n"); });
setTimeout(() => {}, 60000);
process.stdout.write("ready\\n");
`;

test("the statement probe reads the counts of processes that loaded the counter, and only theirs", async () => {
  const child = spawnChild(["--import", "tsx", "--import", "./bench/instrument/statement-counter.ts", "--input-type=module", "-e", SCRIPT], { ...process.env }, "open");
  try {
    await child.waitForLine((l) => (l === "ready" ? true : undefined), 20_000, "script start");
    const probe = createStatementProbe(child);
    assert.deepEqual(await probe.read([child.pid]), { queries: 1, statements: 2 });
    child.send("go\n");
    await child.waitForLine((l) => (l === "second" ? true : undefined), 5000, "second query");
    assert.deepEqual(await probe.read([child.pid]), { queries: 2, statements: 3 }, "a second reading asks again, not the first answer");
    // This test's own process never announced a counter: it is not signalled (SIGUSR2 would end it).
    assert.equal(await createStatementProbe(child).read([process.pid]), undefined);
  } finally {
    await child.stop(2000);
  }
});
