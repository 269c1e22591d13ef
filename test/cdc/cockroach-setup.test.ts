import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { cockroachSetupOptions, cockroachSourceOptions, parseKeyColumns } from "../../src/cdc/cockroach-config.js";
import { parseConfig } from "../../src/config.js";
import { cockroachChangefeedStatement, cockroachSetupSql, webhookSinkConfigJson } from "../../src/cdc/cockroach-setup.js";
import { compareHlc, comparePositions, formatHlc, hlcTime, parseHlc } from "../../src/cdc/cockroach-hlc.js";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const base = { tables: ["bank_accounts", "bank.public.transfers"], url: "https://herald-cdc:8443/changefeed", authHeader: "Basic aGVyYWxkOnB3", caCertPem: PEM };

/** The sink URI inside the statement's INTO '...'. */
function sinkOf(sql: string): URL {
  const m = /INTO '([^']+)'/.exec(sql);
  assert.ok(m, sql);
  return new URL(m[1]!.replace(/^webhook-https:/, "https:"));
}

test("setup: CREATE CHANGEFEED with a webhook-https sink and the documented options", () => {
  const sql = cockroachChangefeedStatement(base);
  assert.match(sql, /^CREATE CHANGEFEED FOR TABLE bank_accounts, bank\.public\.transfers\n/);
  assert.match(sql, /INTO 'webhook-https:\/\/herald-cdc:8443\/changefeed\?ca_cert=/);
  const sink = sinkOf(sql);
  assert.equal(Buffer.from(sink.searchParams.get("ca_cert")!, "base64").toString("utf8"), PEM, "ca_cert is the base64 PEM, URL-encoded");
  assert.equal(sink.searchParams.get("insecure_tls_skip_verify"), null);
  for (const option of ["updated", "mvcc_timestamp", "resolved = '10s'", "min_checkpoint_frequency = '10s'", "diff", "webhook_auth_header = 'Basic aGVyYWxkOnB3'", "webhook_client_timeout = '10s'"]) {
    assert.ok(sql.split(/\n\s*(?:WITH )?/).some((line) => line.replace(/[,;]$/, "") === option), `option ${option} in:\n${sql}`);
  }
  const config = JSON.parse(/webhook_sink_config = '([^']+)'/.exec(sql)![1]!);
  assert.deepEqual(config, { Flush: { Messages: 500, Frequency: "100ms" }, Retry: { Max: "inf", Backoff: "500ms" } });
  assert.ok(sql.endsWith(";"));
});

test("setup: options change what they say; quotes are escaped", () => {
  const sql = cockroachChangefeedStatement({
    ...base,
    caCertPem: undefined,
    insecureSkipVerify: true,
    authHeader: "Bearer it's",
    resolved: "30s",
    diff: false,
    clientTimeout: "20s",
    initialScan: "no",
    cursor: "1629813621680097993.0000000000",
    sinkConfig: { flushMessages: 10, flushFrequency: "1s", retryMax: 5, retryBackoff: "1s" },
  });
  assert.equal(sinkOf(sql).searchParams.get("insecure_tls_skip_verify"), "true");
  assert.ok(!sql.includes("ca_cert"));
  assert.ok(sql.includes("webhook_auth_header = 'Bearer it''s'"), "a quote in the header is doubled");
  assert.ok(sql.includes("resolved = '30s'") && sql.includes("min_checkpoint_frequency = '30s'"));
  assert.ok(!/\bdiff\b/.test(sql));
  assert.ok(sql.includes("initial_scan = 'no'") && sql.includes("cursor = '1629813621680097993.0000000000'"));
  assert.ok(sql.includes(`webhook_sink_config = '${webhookSinkConfigJson({ flushMessages: 10, flushFrequency: "1s", retryMax: 5, retryBackoff: "1s" })}'`));
  assert.ok(cockroachSetupSql(base).startsWith("-- Changefeeds need rangefeeds"));
  assert.ok(cockroachSetupSql(base).includes("SET CLUSTER SETTING kv.rangefeed.enabled = true;"));
});

test("setup: bad options are refused", () => {
  assert.throws(() => cockroachChangefeedStatement({ ...base, url: "http://herald:8443/x" }), /only HTTPS/);
  assert.throws(() => cockroachChangefeedStatement({ ...base, tables: [] }), /at least one table/);
  assert.throws(() => cockroachChangefeedStatement({ ...base, tables: ["x; DROP TABLE y"] }), /must be/);
  assert.throws(() => cockroachChangefeedStatement({ ...base, authHeader: "" }), /authHeader/);
  assert.throws(() => cockroachChangefeedStatement({ ...base, caCertPem: undefined }), /caCertPem/);
  assert.throws(() => cockroachChangefeedStatement({ ...base, resolved: "10 seconds'; --" }), /duration/);
  assert.throws(() => cockroachChangefeedStatement({ ...base, cursor: "now" }), /HLC/);
  assert.throws(() => webhookSinkConfigJson({ retryMax: 0 }), /retryMax/);
});

test("HLC: compared as numbers past double precision, canonical text, wall time as commit time", () => {
  const a = parseHlc("1629813621680097993.0000000000")!;
  const b = parseHlc("1629813621680097993.0000000001")!;
  const c = parseHlc("1629813621680097994.0000000000")!;
  // These differ by 1 ns or one logical tick: as doubles they would be equal.
  assert.equal(Number("1629813621680097993"), Number("1629813621680097994"));
  assert.ok(compareHlc(a, b) < 0 && compareHlc(b, c) < 0 && compareHlc(c, a) > 0);
  assert.equal(compareHlc(a, parseHlc("1629813621680097993")!), 0);
  // String order is wrong for different lengths; numeric order is not.
  assert.ok(comparePositions("999.0000000000", "1000.0000000000") < 0);
  assert.equal(formatHlc(parseHlc("12.5")!), "12.5000000000");
  assert.equal(formatHlc(b), "1629813621680097993.0000000001");
  assert.equal(hlcTime(a).toISOString(), "2021-08-24T14:00:21.680Z");
  for (const bad of ["", "1.", ".5", "1.00000000001", "-1.0", "1e9", 5, null]) assert.equal(parseHlc(bad), undefined, String(bad));
  assert.throws(() => comparePositions("0/16B3748", "1.0"), /not CockroachDB HLC/);
});

test("config: the webhook source's options come from the environment and its files", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "herald-crdb-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, "cert.pem"), "CERT");
  await writeFile(join(dir, "key.pem"), "KEY");
  await writeFile(join(dir, "auth"), "Basic c2VjcmV0\n");
  const env = {
    HERALD_CDC_WEBHOOK_HOST: "0.0.0.0",
    HERALD_CDC_WEBHOOK_PORT: "9443",
    HERALD_CDC_WEBHOOK_CERT_FILE: join(dir, "cert.pem"),
    HERALD_CDC_WEBHOOK_KEY_FILE: join(dir, "key.pem"),
    HERALD_CDC_WEBHOOK_AUTH_HEADER_FILE: join(dir, "auth"),
    HERALD_CDC_WEBHOOK_KEYS: "transfers:account_id+seq",
  };
  const config = parseConfig(env);
  const options = await cockroachSourceOptions(config, ["bank_accounts", "transfers"]);
  assert.equal(options.host, "0.0.0.0");
  assert.equal(options.port, 9443);
  assert.equal(options.path, "/changefeed");
  assert.equal(options.authHeader, "Basic c2VjcmV0");
  assert.equal(String(options.tls.cert), "CERT");
  assert.deepEqual(options.tables, { bank_accounts: ["id"], transfers: ["account_id", "seq"] });
  await assert.rejects(cockroachSourceOptions(parseConfig({}), ["t"]), /HERALD_CDC_WEBHOOK_CERT_FILE/);
  await assert.rejects(
    cockroachSourceOptions(parseConfig({ HERALD_CDC_WEBHOOK_CERT_FILE: join(dir, "cert.pem"), HERALD_CDC_WEBHOOK_KEY_FILE: join(dir, "key.pem") }), ["t"]),
    /AUTH_HEADER/,
  );
  const setup = await cockroachSetupOptions(parseConfig({ ...env, HERALD_CDC_WEBHOOK_URL: "https://herald-cdc:9443/changefeed" }), ["bank_accounts"]);
  const sql = cockroachChangefeedStatement(setup);
  assert.equal(Buffer.from(sinkOf(sql).searchParams.get("ca_cert")!, "base64").toString(), "CERT", "ca_cert defaults to the (self-signed) certificate");
  assert.equal(sinkOf(sql).host, "herald-cdc:9443");
  assert.ok(sql.includes("webhook_auth_header = 'Basic c2VjcmV0'"), "the same auth value the source checks");
  assert.equal((await cockroachSetupOptions(parseConfig({ ...env, HERALD_CDC_WEBHOOK_CA_FILE: join(dir, "key.pem") }), ["t"])).caCertPem, "KEY");
  assert.equal((await cockroachSetupOptions(config, ["t"])).url, "https://localhost:9443/changefeed");
  await assert.rejects(cockroachSetupOptions(parseConfig({}), ["t"]), /CA_FILE/);
  assert.throws(() => parseConfig({ HERALD_CDC_WEBHOOK_URL: "http://x/y" }), /HERALD_CDC_WEBHOOK_URL/);
  assert.throws(() => parseKeyColumns("other:id", ["t"]), /not a watched table/);
  assert.throws(() => parseConfig({ HERALD_CDC_WEBHOOK_KEYS: "t:Bad Col" }), /HERALD_CDC_WEBHOOK_KEYS/);
});
