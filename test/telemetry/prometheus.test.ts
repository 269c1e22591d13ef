import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, test } from "node:test";
import { parseConfig } from "../../src/config.js";
import { startTelemetry, telemetryPlan, type Telemetry } from "../../src/telemetry/sdk.js";
import { createHarness, type Harness } from "../kit/harness.js";
import { waitFor } from "../kit/wait.js";

let h: Harness;
let telemetry: Telemetry;
let port: number;

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });

before(async () => {
  port = await freePort();
  // The same path `herald start` takes: the environment, parsed, then startTelemetry.
  const config = parseConfig({ OTEL_METRICS_EXPORTER: "prometheus", OTEL_EXPORTER_PROMETHEUS_PORT: String(port) });
  assert.deepEqual(telemetryPlan(config).metrics, ["prometheus"]);
  telemetry = await startTelemetry(config);
  h = await createHarness();
  await h.startWorker();
});
after(async () => {
  await h?.close();
  await telemetry?.shutdown();
});

test("OTEL_METRICS_EXPORTER=prometheus serves Herald's metrics for scraping", async () => {
  assert.equal((await h.send("open_account", { accountId: "prom_1", owner: "p" })).body.status, "committed");
  assert.equal((await h.send("open_account", { accountId: "prom_1", owner: "p" })).body.status, "rejected");
  const text = await waitFor(async () => {
    const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return /herald_commands/.test(body) ? body : undefined;
  }, { what: "herald_commands on /metrics" });
  const line = (outcome: string) => text.split("\n").find((l) => l.startsWith("herald_commands") && l.includes(`herald_domain="${h.domain}"`) && l.includes(`herald_outcome="${outcome}"`));
  assert.match(line("committed") ?? "", / 1$/);
  assert.match(line("rejected") ?? "", / 1$/);
  assert.match(text, /^# TYPE herald_command_duration histogram$/m);
  assert.match(text, new RegExp(`herald_command_duration_bucket\\{[^}]*herald_domain="${h.domain}"`));
});

test("prometheus is refused as a trace exporter", () => {
  assert.deepEqual(telemetryPlan({ OTEL_TRACES_EXPORTER: "prometheus" }).unsupported, ["prometheus (traces)"]);
});
