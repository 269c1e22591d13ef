import { test } from "node:test";
import { assertHeld } from "./scenario.js";
import { killWorkers, SHORT } from "./scenarios.js";

test("kill -9 of workers during load: nothing lost, nothing doubled", async () => {
  assertHeld(await killWorkers(SHORT), SHORT.transfers);
});
