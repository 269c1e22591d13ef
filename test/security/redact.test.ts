import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfig } from "../../src/config.js";
import { redactConfig, redactText, redactUrl } from "../../src/security/redact.js";
import { freePort } from "../kit/nats-server.js";
import { runCli } from "../kit/cli.js";

test("URLs lose their passwords, tokens and secret parameters, and keep the rest", () => {
  assert.equal(
    redactUrl("postgresql://herald:s3cr%40t@db:26257/app?sslmode=verify-full&sslrootcert=/certs/ca.crt"),
    "postgresql://herald:***@db:26257/app?sslmode=verify-full&sslrootcert=/certs/ca.crt",
  );
  assert.equal(redactUrl("postgresql://db/app?user=h&password=abc"), "postgresql://db/app?user=h&password=***");
  assert.equal(redactUrl("nats://t0ken@nats:4222"), "nats://***@nats:4222");
  assert.equal(redactUrl("nats://worker:pw@nats:4222"), "nats://worker:***@nats:4222");
  const clean = "postgresql://root@127.0.0.1:26257/defaultdb?sslmode=disable";
  assert.equal(redactUrl(clean), clean);
  assert.equal(redactUrl("not a url, password=hunter2"), "not a url, password=***");
});

test("free text and configurations", () => {
  const text = redactText("connect to postgresql://u:p%40ss@h:5432/db failed; also nats://tok@n:4222 and tls://a:b@c and sslpassword=xyz");
  assert.doesNotMatch(text, /p%40ss|tok@|:b@|xyz/);
  assert.match(text, /postgresql:\/\/u:\*\*\*@h:5432\/db/);

  const config = parseConfig({
    DATABASE_URL: "postgresql://herald:dbpw@db:26257/app?sslmode=verify-full",
    NATS_URL: "nats://w:natspw@n1:4222,nats://w:natspw@n2:4222",
    NATS_USER: "w",
    NATS_PASSWORD: "natspw",
    NATS_TOKEN: "tkn",
    NATS_CREDS_FILE: "/run/secrets/worker.creds",
    DATABASE_PASSWORD_FILE: "/run/secrets/db",
  });
  const shown = redactConfig(config);
  assert.doesNotMatch(JSON.stringify(shown), /dbpw|natspw|tkn/);
  assert.equal(shown.NATS_PASSWORD, "***");
  assert.equal(shown.NATS_USER, "w");
  assert.equal(shown.NATS_CREDS_FILE, "/run/secrets/worker.creds", "paths are not secrets");
  assert.equal(shown.DATABASE_PASSWORD_FILE, "/run/secrets/db");
  assert.equal(shown.NATS_URL, "nats://w:***@n1:4222,nats://w:***@n2:4222");
  assert.equal(shown.HERALD_MAX_IN_FLIGHT, 512);
});

test("the CLI never prints a secret in errors or help", async () => {
  const port = await freePort();
  const env = {
    DATABASE_URL: `postgresql://herald:db-secret-1a2b@127.0.0.1:${port}/app`,
    NATS_URL: `nats://worker:nats-secret-3c4d@127.0.0.1:${port}`,
    NATS_PASSWORD: "nats-secret-5e6f",
    NATS_USER: "worker",
  };
  const secrets = /db-secret-1a2b|nats-secret-3c4d|nats-secret-5e6f/;
  for (const args of [["migrate"], ["start"], ["start", "--help"], ["audit", "--help"], ["--help"]]) {
    const result = await runCli(args, { env });
    assert.doesNotMatch(result.stdout + result.stderr, secrets, args.join(" "));
  }
  // An argument quoting a URL with a password is redacted in the error line.
  const quoted = await runCli(["audit", "--nats-config", "nats://ops:arg-secret-7a8b@host/x"], { env });
  assert.equal(quoted.code, 2);
  assert.match(quoted.stderr, /nats:\/\/ops:\*\*\*@host\/x/);
  assert.doesNotMatch(quoted.stderr, /arg-secret-7a8b/);
});
