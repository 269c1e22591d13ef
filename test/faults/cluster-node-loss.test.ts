import { test } from "node:test";
import { assertHeld } from "./scenario.js";
import { clusterNodeLoss, SHORT } from "./scenarios.js";

test("a NATS cluster node lost during load: the replicated stream keeps every event once", async () => {
  assertHeld(await clusterNodeLoss(SHORT), SHORT.transfers);
});
