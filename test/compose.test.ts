import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { parseDocument, visit } from "yaml";
import { configSchema, parseConfig } from "../src/config.js";
import { cockroachChangefeedStatement } from "../src/cdc/cockroach-setup.js";

// Static checks of the container files: they must agree with the code
// (CLI path, configuration variables) and with each other.

const composeUrl = new URL("../docker-compose.yml", import.meta.url);
const dockerfileUrl = new URL("../Dockerfile", import.meta.url);

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function obj(value: unknown, what: string): Obj {
  assert.ok(isObj(value), `${what} must be a mapping`);
  return value;
}

async function loadCompose(): Promise<Obj> {
  const text = await readFile(composeUrl, "utf8");
  const doc = parseDocument(text);
  assert.deepEqual(doc.errors.map((e) => e.message), [], "docker-compose.yml must parse");
  let aliases = 0;
  visit(doc, {
    Alias() {
      aliases += 1;
    },
  });
  assert.equal(aliases, 0, "docker-compose.yml must not use YAML anchors/aliases");
  return obj(doc.toJS(), "docker-compose.yml");
}

async function loadServices(): Promise<Record<string, Obj>> {
  const compose = await loadCompose();
  const services = obj(compose.services, "services");
  return Object.fromEntries(Object.entries(services).map(([name, s]) => [name, obj(s, `service ${name}`)]));
}

function service(services: Record<string, Obj>, name: string): Obj {
  const s = services[name];
  assert.ok(s, `service ${name} must exist`);
  return s;
}

/** A service's environment as a map, whichever syntax it uses. */
function environment(s: Obj): Record<string, string> {
  const env = s.environment;
  if (env === undefined || env === null) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const text = String(entry);
        const eq = text.indexOf("=");
        return eq < 0 ? [text, ""] : [text.slice(0, eq), text.slice(eq + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(obj(env, "environment")).map(([k, v]) => [k, v == null ? "" : String(v)]));
}

/** A command as an argument list, whichever syntax it uses. */
function argv(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === "string") return value.trim().split(/\s+/);
  return [];
}

/** `[published, target]` for each port mapping, whichever syntax it uses. */
function portMappings(s: Obj): Array<{ published: string | undefined; target: string }> {
  const ports = s.ports;
  if (!Array.isArray(ports)) return [];
  return ports.map((p) => {
    if (isObj(p)) {
      return { published: p.published === undefined ? undefined : String(p.published), target: String(p.target) };
    }
    const parts = String(p).replace(/\/(tcp|udp)$/, "").split(":");
    const target = parts[parts.length - 1] ?? "";
    const published = parts.length >= 2 ? parts[parts.length - 2] : undefined;
    return { published, target };
  });
}

/** Named volumes a service mounts (bind mounts excluded). */
function namedVolumes(s: Obj): string[] {
  const volumes = s.volumes;
  if (!Array.isArray(volumes)) return [];
  const names: string[] = [];
  for (const v of volumes) {
    if (isObj(v)) {
      if ((v.type === undefined || v.type === "volume") && typeof v.source === "string") names.push(v.source);
      continue;
    }
    const text = String(v);
    if (!text.includes(":")) continue; // anonymous volume
    const source = text.slice(0, text.indexOf(":"));
    if (/^[./~$]/.test(source)) continue; // bind mount
    names.push(source);
  }
  return names;
}

const SERVICES = ["cockroach", "nats", "jaeger", "migrate", "worker"] as const;

test("compose: the five services exist", async () => {
  const services = await loadServices();
  for (const name of SERVICES) service(services, name);
});

test("compose: plain file, no extension fields", async () => {
  const compose = await loadCompose();
  const extensions = Object.keys(compose).filter((k) => k.startsWith("x-"));
  assert.deepEqual(extensions, []);
});

test("compose: every service has a pinned image or a build", async () => {
  const services = await loadServices();
  for (const [name, s] of Object.entries(services)) {
    if (s.build !== undefined) continue;
    assert.equal(typeof s.image, "string", `${name} needs an image or a build`);
    const image = String(s.image);
    const lastSegment = image.slice(image.lastIndexOf("/") + 1);
    const digest = image.includes("@sha256:");
    const tag = lastSegment.includes(":") ? lastSegment.slice(lastSegment.indexOf(":") + 1) : "";
    assert.ok(digest || (tag !== "" && tag !== "latest"), `${name}: image ${image} must pin a version`);
  }
});

test("compose: cockroach and nats have healthchecks", async () => {
  const services = await loadServices();
  for (const name of ["cockroach", "nats"]) {
    const hc = obj(service(services, name).healthcheck, `${name}.healthcheck`);
    const cmd = argv(hc.test);
    assert.ok(cmd.length > 0, `${name}: healthcheck needs a test command`);
    if (Array.isArray(hc.test)) {
      assert.ok(["CMD", "CMD-SHELL"].includes(cmd[0] ?? ""), `${name}: healthcheck test must start with CMD or CMD-SHELL`);
      assert.ok(cmd.length > 1, `${name}: healthcheck test needs a command after ${cmd[0]}`);
    }
    for (const key of ["interval", "timeout", "retries"]) {
      assert.ok(hc[key] !== undefined, `${name}: healthcheck.${key} must be set`);
    }
  }
  assert.ok(argv(obj(services.cockroach?.healthcheck, "cockroach.healthcheck").test).join(" ").includes("/health?ready=1"));
  assert.ok(argv(obj(services.nats?.healthcheck, "nats.healthcheck").test).join(" ").includes("/healthz"));
});

test("compose: database, NATS and tracing UI ports are published", async () => {
  const services = await loadServices();
  const published = Object.values(services).flatMap((s) =>
    portMappings(s)
      .filter((m) => m.published !== undefined && m.published !== "")
      .map((m) => m.target),
  );
  for (const port of ["26257", "4222", "16686"]) {
    assert.ok(published.includes(port), `port ${port} must be published`);
  }
});

test("compose: the worker waits for healthy dependencies and a finished migration", async () => {
  const services = await loadServices();
  const deps = obj(service(services, "worker").depends_on, "worker.depends_on");
  const condition = (name: string) => obj(deps[name], `worker.depends_on.${name}`).condition;
  assert.equal(condition("cockroach"), "service_healthy");
  assert.equal(condition("nats"), "service_healthy");
  assert.equal(condition("migrate"), "service_completed_successfully");

  const migrateDeps = obj(service(services, "migrate").depends_on, "migrate.depends_on");
  assert.equal(obj(migrateDeps.cockroach, "migrate.depends_on.cockroach").condition, "service_healthy");
  assert.equal(String(service(services, "migrate").restart), "no");
});

test("compose: worker and migrate point at the compose services", async () => {
  const services = await loadServices();
  for (const name of ["worker", "migrate"]) {
    const env = environment(service(services, name));
    assert.ok(env.DATABASE_URL, `${name}: DATABASE_URL must be set`);
    assert.equal(new URL(env.DATABASE_URL).hostname, "cockroach", `${name}: DATABASE_URL must point at cockroach`);
  }
  const workerEnv = environment(service(services, "worker"));
  assert.ok(workerEnv.NATS_URL, "worker: NATS_URL must be set");
  for (const url of workerEnv.NATS_URL.split(",")) {
    assert.equal(new URL(url.trim()).hostname, "nats", "worker: NATS_URL must point at nats");
  }
  const migrateEnv = environment(service(services, "migrate"));
  if (migrateEnv.NATS_URL) {
    assert.equal(new URL(migrateEnv.NATS_URL).hostname, "nats");
  }
});

test("compose: commands run the CLI's migrate and start", async () => {
  const services = await loadServices();
  const expected = { migrate: "migrate", worker: "start" } as const;
  for (const [name, sub] of Object.entries(expected)) {
    const cmd = argv(service(services, name).command);
    const at = cmd.indexOf("dist/src/cli/main.js");
    assert.ok(at >= 0, `${name}: command must run dist/src/cli/main.js (got ${JSON.stringify(cmd)})`);
    assert.equal(cmd[at + 1], sub, `${name}: command must be \`${sub}\``);
  }
});

test("compose: Herald variables the services set are known to the configuration", async () => {
  const services = await loadServices();
  const known = new Set(Object.keys(configSchema.shape));
  const herald = (key: string) => key.startsWith("HERALD_") || ["DATABASE_URL", "NATS_URL", "LOG_LEVEL"].includes(key);
  for (const name of ["worker", "migrate"]) {
    const env = environment(service(services, name));
    const keys = Object.keys(env).filter(herald);
    for (const key of keys) {
      assert.ok(known.has(key), `${name}: ${key} is not a configuration variable (src/config.ts)`);
    }
    // The values must be accepted too.
    assert.doesNotThrow(() => parseConfig(Object.fromEntries(keys.map((k) => [k, env[k]]))), `${name}: invalid values`);
  }
});

test("compose: every named volume is declared", async () => {
  const compose = await loadCompose();
  const declared = isObj(compose.volumes) ? Object.keys(compose.volumes) : [];
  const services = await loadServices();
  for (const [name, s] of Object.entries(services)) {
    for (const volume of namedVolumes(s)) {
      assert.ok(declared.includes(volume), `${name}: volume ${volume} must be declared under top-level volumes`);
    }
  }
});

/** Dockerfile instructions, continuation lines joined, comments dropped. */
async function dockerfileInstructions(): Promise<Array<{ op: string; args: string }>> {
  const text = await readFile(dockerfileUrl, "utf8");
  const logical: string[] = [];
  let current = "";
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (current === "" && (line === "" || line.startsWith("#"))) continue;
    if (current !== "" && line.startsWith("#")) continue;
    if (line.endsWith("\\")) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(current + line);
    current = "";
  }
  if (current !== "") logical.push(current);
  return logical.map((l) => {
    const m = /^(\S+)\s*(.*)$/.exec(l);
    return { op: (m?.[1] ?? "").toUpperCase(), args: m?.[2] ?? "" };
  });
}

test("Dockerfile: multi-stage, npm ci, non-root final stage", async () => {
  const instructions = await dockerfileInstructions();
  const froms = instructions.flatMap((ins, i) => (ins.op === "FROM" ? [i] : []));
  assert.ok(froms.length >= 2, "Dockerfile needs at least two FROM stages");
  for (const i of froms) {
    const image = instructions[i]?.args.split(/\s+/)[0] ?? "";
    assert.ok(/:[^/]+$/.test(image) && !image.endsWith(":latest"), `FROM ${image} must pin a tag`);
  }

  assert.ok(
    instructions.some((ins) => ins.op === "RUN" && /\bnpm ci\b/.test(ins.args)),
    "Dockerfile must install with npm ci",
  );

  const finalStage = instructions.slice(froms[froms.length - 1] ?? 0);
  const users = finalStage.filter((ins) => ins.op === "USER").map((ins) => ins.args.trim());
  assert.ok(users.length > 0, "the final stage must set USER");
  assert.equal(users[users.length - 1], "node", "the final stage must run as the non-root node user");

  const start = finalStage.filter((ins) => ins.op === "CMD" || ins.op === "ENTRYPOINT").map((ins) => ins.args).join(" ");
  assert.ok(start.includes("dist/src/cli/main.js"), "the final stage must start the CLI");
});

// CDC from CockroachDB: the bridge, its certificate job and the changefeed job.

test("compose: the CDC bridge serves the changefeed webhook from the CLI, with known settings", async () => {
  const services = await loadServices();
  const cdc = service(services, "cdc");
  const cmd = argv(cdc.command);
  const at = cmd.indexOf("dist/src/cli/main.js");
  assert.ok(at >= 0, "cdc: command must run the CLI");
  assert.deepEqual(cmd.slice(at + 1, at + 5), ["cdc", "start", "--source", "cockroachdb"]);
  assert.equal(cmd[cmd.indexOf("--table") + 1], "bank_accounts", "the watched table is named with --table");
  const env = environment(cdc);
  assert.equal(new URL(env.NATS_URL!).hostname, "nats");
  assert.equal(env.HERALD_CDC_WEBHOOK_HOST, "0.0.0.0", "reachable from the cockroach container");
  const known = new Set(Object.keys(configSchema.shape));
  const keys = Object.keys(env).filter((k) => k.startsWith("HERALD_") || ["DATABASE_URL", "NATS_URL", "LOG_LEVEL"].includes(k));
  for (const key of keys) assert.ok(known.has(key), `cdc: ${key} is not a configuration variable`);
  assert.doesNotThrow(() => parseConfig(Object.fromEntries(keys.map((k) => [k, env[k]]))));
  // Certificate, key and auth header come from the volume the certificate job writes.
  const mounts = (cdc.volumes as string[]).map(String);
  assert.ok(mounts.includes("cdc-certs:/certs:ro"));
  for (const key of ["HERALD_CDC_WEBHOOK_CERT_FILE", "HERALD_CDC_WEBHOOK_KEY_FILE", "HERALD_CDC_WEBHOOK_AUTH_HEADER_FILE"]) {
    assert.ok(env[key]?.startsWith("/certs/"), `${key} must be in /certs`);
  }
  const deps = obj(cdc.depends_on, "cdc.depends_on");
  assert.equal(obj(deps["cdc-certs"], "cdc.depends_on.cdc-certs").condition, "service_completed_successfully");
  assert.equal(obj(deps.nats, "cdc.depends_on.nats").condition, "service_healthy");
  const certs = argv(service(services, "cdc-certs").command).join(" ");
  assert.ok(certs.includes("cockroach cert create-node cdc"), "the certificate names the bridge's host");
  assert.ok(certs.includes("/certs/auth-header"));
});

test("compose: the changefeed job creates the statement `herald cdc setup --source cockroachdb` prints, into the bridge", async () => {
  const services = await loadServices();
  const job = service(services, "cdc-changefeed");
  assert.equal(String(job.restart), "no");
  const deps = obj(job.depends_on, "cdc-changefeed.depends_on");
  assert.equal(obj(deps.cockroach, "cdc-changefeed.depends_on.cockroach").condition, "service_healthy");
  assert.equal(obj(deps.migrate, "cdc-changefeed.depends_on.migrate").condition, "service_completed_successfully", "the watched table exists first");
  assert.ok(deps.cdc, "it waits for the bridge to start");
  const script = (job.command as string[]).join("\n");
  assert.ok(script.includes("SET CLUSTER SETTING kv.rangefeed.enabled = true;"));
  const create = /CREATE CHANGEFEED FOR TABLE (\S+) INTO '([^']+)' WITH (.*);"/.exec(script);
  assert.ok(create, "the job runs CREATE CHANGEFEED");
  const env = environment(service(services, "cdc"));
  const sink = new URL(create[2]!.replace(/^webhook-https:/, "https:"));
  assert.equal(sink.hostname, "cdc", "the sink is the bridge service");
  assert.equal(sink.port, env.HERALD_CDC_WEBHOOK_PORT);
  assert.equal(sink.pathname, env.HERALD_CDC_WEBHOOK_PATH);
  assert.equal(sink.searchParams.get("ca_cert"), "$$CA");
  // The WITH clause is exactly the setup function's, for the same inputs.
  const expected = cockroachChangefeedStatement({ tables: [create[1]!], url: "https://cdc:8443/changefeed", authHeader: "$$AUTH", caCertPem: "x" });
  const withClause = (text: string) => text.slice(text.indexOf("WITH") + 4).replace(/\s+/g, " ").replace(/;$/, "").trim();
  assert.equal(create[3]!.replace(/\\"/g, '"'), withClause(expected));
});

// --- The compose path for the tests: compose starts the PostgreSQL the tests use. ---

const readmeUrl = new URL("../README.md", import.meta.url);
const ciUrl = new URL("../.ci/run", import.meta.url);

test("compose: test-postgres is the PostgreSQL the test kit expects, set up as the tests want it", async () => {
  const { COMPOSE_TEST_DATABASE_URL } = await import("./kit/database.js");
  const s = service(await loadServices(), "test-postgres");
  assert.match(String(s.image), /^postgres:\d+(\.\d+)*-alpine$/, "a pinned PostgreSQL image");
  const major = Number(/^postgres:(\d+)/.exec(String(s.image))?.[1]);
  assert.ok(major >= 14, "PostgreSQL 14 or later");
  assert.equal(environment(s).POSTGRES_HOST_AUTH_METHOD, "trust", "the kit connects as postgres without a password");
  const url = new URL(COMPOSE_TEST_DATABASE_URL);
  const mapping = portMappings(s).find((m) => m.target === "5432");
  assert.equal(mapping?.published, url.port, "published on the port COMPOSE_TEST_DATABASE_URL names");
  assert.ok(argv(s.ports).join(" ").includes(`127.0.0.1:${url.port}:5432`), "bound to loopback only: trust auth must not face the network");
  assert.equal(url.username, "postgres");
  const settings = argv(s.command);
  const maxConnections = Number(settings.find((a) => a.startsWith("max_connections="))?.split("=")[1]);
  assert.ok(maxConnections >= 200, `test files open pools of 20 and workers of their own: max_connections ${maxConnections} is too few`);
  const hc = obj(s.healthcheck, "test-postgres.healthcheck");
  assert.ok(argv(hc.test).includes("pg_isready"));
  for (const name of ["worker", "migrate"]) {
    const deps = service(await loadServices(), name).depends_on;
    assert.ok(!isObj(deps) || !("test-postgres" in deps), `${name} must not wait for the tests' database`);
  }
});

test("compose: the README gives the test path exactly as compose sets it up", async () => {
  const { COMPOSE_TEST_DATABASE_URL } = await import("./kit/database.js");
  const readme = await readFile(readmeUrl, "utf8");
  assert.ok(readme.includes("docker compose up -d test-postgres") || readme.includes("docker compose up -d"), "the README starts compose");
  assert.ok(readme.includes(`DATABASE_URL=${COMPOSE_TEST_DATABASE_URL} npm test`), "the README runs the tests against test-postgres");
});

test("compose: without a usable PostgreSQL the kit says in one line what the tests need", async () => {
  const { spawn } = await import("node:child_process");
  const { childEnvironment } = await import("../src/config.js");
  const { freePort } = await import("./kit/nats-server.js");
  const port = await freePort();
  const script = `import { createTestDatabase } from ${JSON.stringify(new URL("./kit/database.ts", import.meta.url).href)};
    createTestDatabase().then(() => process.exit(3), (e) => { process.stdout.write(e.message); process.exit(0); });`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    env: childEnvironment({ DATABASE_URL: `postgresql://postgres@127.0.0.1:${port}/postgres` }),
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  assert.equal(code, 0, "creating a test database failed, as it must");
  assert.equal(out.split("\n").length, 1, "one line");
  assert.match(out, /^tests need PostgreSQL \(nothing usable answers at DATABASE_URL: .*ECONNREFUSED.*\): run `docker compose up -d test-postgres` and DATABASE_URL=postgresql:\/\/postgres@127\.0\.0\.1:55432\/postgres npm test/);
});

test("CI checks the compose file with `docker compose config` when docker is there, and never fails without it", async () => {
  const ci = await readFile(ciUrl, "utf8");
  const line = ci.split("\n").find((l) => l.includes("docker compose") && l.includes("config"));
  assert.ok(line, ".ci/run runs docker compose config");
  assert.match(ci, /command -v docker[^\n]*&&[^\n]*docker compose version/, "guarded: only with a docker CLI that has compose");
});

const deployUrl = (path: string) => new URL(`../deploy/${path}`, import.meta.url);

/** The host file a service mounts at `target`, from its `./host:target[:ro]` volumes. */
function mounted(s: Obj, target: string): string | undefined {
  const volumes = Array.isArray(s.volumes) ? s.volumes.map(String) : [];
  const entry = volumes.find((v) => v.split(":")[1] === target);
  return entry?.split(":")[0];
}

test("compose: the console runs `herald console` read-only, published on localhost only, with known settings", async () => {
  const services = await loadServices();
  const console = service(services, "console");
  assert.deepEqual(argv(console.command), ["node", "dist/src/cli/main.js", "console"]);
  const env = environment(console);
  assert.equal(env.HERALD_CONSOLE_ACTIONS ?? "false", "false", "the compose console is read-only");
  assert.doesNotThrow(() => parseConfig(env));
  assert.deepEqual(portMappings(console).map((p) => `${p.published}:${p.target}`), ["8090:8090"]);
  assert.ok((console.ports as string[]).every((p) => String(p).startsWith("127.0.0.1:")), "published on localhost only");
});

test("compose: workers and the CDC bridge serve Prometheus metrics, which Prometheus scrapes", async () => {
  const services = await loadServices();
  for (const name of ["worker", "cdc"]) {
    const env = environment(service(services, name));
    assert.match(env.OTEL_METRICS_EXPORTER ?? "", /prometheus/, `${name} exports metrics for scraping`);
    const config = parseConfig(env);
    assert.equal(config.OTEL_EXPORTER_PROMETHEUS_HOST, "0.0.0.0", `${name} must be reachable from the prometheus service`);
    assert.equal(config.OTEL_EXPORTER_PROMETHEUS_PORT, 9464);
  }
  const prometheus = service(services, "prometheus");
  assert.equal(mounted(prometheus, "/etc/prometheus/prometheus.yml"), "./deploy/prometheus/prometheus.yml");
  const scrape = parseDocument(await readFile(deployUrl("prometheus/prometheus.yml"), "utf8")).toJS() as { scrape_configs: Obj[] };
  const targets = JSON.stringify(scrape.scrape_configs);
  assert.match(targets, /"names":\["worker"\].*"port":9464/s, "every worker replica is scraped on 9464");
  assert.match(targets, /cdc:9464/);
});

test("compose: Grafana is provisioned with Prometheus and the committed Herald dashboard", async () => {
  const services = await loadServices();
  const grafana = service(services, "grafana");
  assert.equal(mounted(grafana, "/etc/grafana/provisioning"), "./deploy/grafana/provisioning");
  assert.equal(mounted(grafana, "/var/lib/grafana/dashboards"), "./deploy/grafana/dashboards");
  const datasource = parseDocument(await readFile(deployUrl("grafana/provisioning/datasources/prometheus.yml"), "utf8")).toJS() as { datasources: Obj[] };
  assert.equal(datasource.datasources[0]!.url, "http://prometheus:9090");
  const provider = parseDocument(await readFile(deployUrl("grafana/provisioning/dashboards/herald.yml"), "utf8")).toJS() as { providers: Obj[] };
  assert.equal((provider.providers[0]!.options as Obj).path, "/var/lib/grafana/dashboards");
  const dashboard = JSON.parse(await readFile(deployUrl("grafana/dashboards/herald.json"), "utf8")) as { panels: Array<{ title: string; targets?: Array<{ expr: string; datasource: { uid: string } }> }> };
  const exprs = dashboard.panels.flatMap((p) => p.targets ?? []);
  assert.ok(exprs.every((t) => t.datasource.uid === datasource.datasources[0]!.uid), "panels use the provisioned data source");
  // Every series the dashboard reads is one Herald exports, under the exporter's naming.
  const { METRIC } = await import("../src/telemetry/semconv.js");
  const { CDC_METRIC } = await import("../src/cdc/cdc-telemetry.js");
  const exported = [...Object.values(METRIC), ...Object.values(CDC_METRIC)].map((n) => n.replaceAll(".", "_"));
  const used = new Set(exprs.flatMap((t) => [...t.expr.matchAll(/\b(herald_[a-z_]+?)(_total|_bucket)?\{/g)].map((m) => m[1]!)));
  for (const name of used) assert.ok(exported.includes(name), `${name} is not a metric Herald exports`);
  for (const area of ["herald_commands", "herald_command_duration", "herald_transaction_retries", "herald_outbox_pending", "herald_consumer_lag", "herald_cdc_lag"]) {
    assert.ok(used.has(area), `the dashboard shows ${area}`);
  }
});
