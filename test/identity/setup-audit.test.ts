import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { decode, encodeAccount, newScopedSigner, type Account, type SigningKey } from "@nats-io/jwt";
import { fromSeed } from "@nats-io/nkeys";
import { sql } from "kysely";
import { bankApp } from "../../examples/bank/index.js";
import { loadConfig } from "../../src/config.js";
import { connectDatabase } from "../../src/db/connection.js";
import { migrateApp } from "../../src/db/migrate-app.js";
import { parsePolicy, PolicyError } from "../../src/identity/policy.js";
import { runCli } from "../kit/cli.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { uniqueDomain } from "../kit/names.js";

// `herald identity init`, `herald identity cockroach` and `herald audit
// --identity-dir` through the CLI, against a real database with the grants of
// `herald grants`; and the policy's errors, each naming its line.
const domain = uniqueDomain("ids");
const role = `herald_${domain}_worker`;
const ISSUER = "https://idp.example.com/realms/prod";
let work: string;
let dir: string;
let database: TestDatabase<any>;

const policy = (mappings: string) => `version: 1
issuers:
  - issuer: ${ISSUER}
    audiences: herald
mappings:
${mappings}`;
const GOOD = `  - domain: ${domain}
    role: worker
    match:
      serviceAccount: bank/worker
  - domain: ${domain}
    role: client
    match:
      groups: [payments]
  - domain: ${domain}
    role: consumer:ledger
    match:
      sub: ledger-service
`;

async function audit(policyText: string): Promise<{ code: number | null; findings: Array<{ kind: string; target: string; detail: string }>; stderr: string }> {
  const file = join(work, `policy-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, policyText);
  const r = await runCli(["audit", "--identity-dir", dir, "--policy", file, "--domain", domain, "--json"], { env: { DATABASE_URL: database.url } });
  return { code: r.code, findings: r.stdout ? JSON.parse(r.stdout).findings : [], stderr: r.stderr };
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), "herald-idsetup-"));
  dir = join(work, "identity");
  database = await createTestDatabase();
  await migrateApp(database.db, bankApp);
  const grants = await runCli(["grants", "--domain", domain, "--dialect", "postgresql"]);
  assert.equal(grants.code, 0, grants.stderr);
  await sql.raw(grants.stdout).execute(database.db);
});
after(async () => {
  await database?.drop();
  const admin = await connectDatabase({ url: loadConfig().DATABASE_URL, poolMax: 1 });
  await sql`DROP ROLE IF EXISTS ${sql.id(role)}`.execute(admin.db).finally(() => admin.destroy());
  await rm(work, { recursive: true, force: true });
});

test("identity init writes keys with mode 0600, never prints them, and changes nothing when run again", async () => {
  const grants = ["worker", "client", "consumer:ledger"].flatMap((r) => ["--grant", `${domain}:${r}`]);
  const first = await runCli(["identity", "init", "--dir", dir, ...grants]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^created: /);
  assert.doesNotMatch(first.stdout + first.stderr, /\bS[OAU][A-Z2-7]{50,}/, "no seed printed");
  for (const file of await readdir(join(dir, "keys"))) assert.equal((await stat(join(dir, "keys", file))).mode & 0o777, 0o600, file);
  assert.equal((await stat(join(dir, "system-user.creds"))).mode & 0o777, 0o600);
  const config = await readFile(join(dir, "nats-server.conf"), "utf8");
  assert.match(config, /^operator: ey/m);
  assert.match(config, /^system_account: A[A-Z2-7]{55}$/m);
  assert.match(config, /resolver_preload: \{/);
  const account = await readFile(join(dir, "account.jwt"), "utf8");

  const again = await runCli(["identity", "init", "--dir", dir, ...grants]);
  assert.match(again.stdout, /^unchanged: /);
  assert.equal(await readFile(join(dir, "account.jwt"), "utf8"), account, "the account is untouched");

  const bad = await runCli(["identity", "init", "--dir", dir, "--grant", `${domain}:admin`]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /role "admin" must be worker, client, cdc, operator or consumer:<durable>/);
  assert.equal(await readFile(join(dir, "account.jwt"), "utf8"), account, "bad input changes nothing");
});

test("herald audit --identity-dir: consistent setup, then drifted and out-of-domain templates and unknown roles are found", async () => {
  const clean = await audit(policy(GOOD));
  assert.equal(clean.code, 0, JSON.stringify(clean.findings) + clean.stderr);

  const missing = await audit(policy(`${GOOD}  - domain: ${domain}
    role: consumer:mailer
    match:
      sub: mailer
  - domain: ${domain}
    role: operator
    match:
      groups: [sre]
`));
  assert.equal(missing.code, 1);
  assert.deepEqual(missing.findings.map((f) => `${f.kind} ${f.target}`).sort(), [
    `unknown-role ${domain}/consumer:mailer`,
    `unknown-role ${domain}/operator`,
    `unknown-role ${domain}/operator`,
  ]);

  // Re-sign the account with the client's key widened: what a hand edit would do.
  const operator = fromSeed(new TextEncoder().encode((await readFile(join(dir, "keys", "operator.nk"), "utf8")).trim()));
  const account = decode<Account>((await readFile(join(dir, "account.jwt"), "utf8")).trim());
  const keys = (account.nats.signing_keys as SigningKey[]).map((k) =>
    k.role === `${domain}.client` ? newScopedSigner(k.key, k.role, { ...k.template, pub: { allow: [...(k.template.pub?.allow ?? []), "orders.cmd.>"] } }) : k,
  );
  await writeFile(join(dir, "account.jwt"), await encodeAccount("herald", account.sub, { ...account.nats, signing_keys: keys }, { signer: operator }));
  const drifted = await audit(policy(GOOD));
  assert.equal(drifted.code, 1);
  assert.deepEqual(drifted.findings.map((f) => `${f.kind} ${f.target}`).sort(), [`beyond-domain orders.cmd.>`, `template-drift ${domain}/client`]);
});

test("identity cockroach prints the JWT settings and identity map of the policy's subject mappings", async () => {
  const file = join(work, "crdb-policy.yaml");
  await writeFile(file, policy(GOOD));
  const r = await runCli(["identity", "cockroach", "--policy", file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^SET CLUSTER SETTING server\.jwt_authentication\.enabled = true;$/m);
  assert.match(r.stdout, new RegExp(`^SET CLUSTER SETTING server\\.jwt_authentication\\.issuers = '\\["${ISSUER.replaceAll(".", "\\.").replaceAll("/", "\\/")}"\\]';$`, "m"));
  assert.match(r.stdout, /^SET CLUSTER SETTING server\.jwt_authentication\.audience = '\["herald"\]';$/m);
  assert.match(r.stdout, /^SET CLUSTER SETTING server\.jwt_authentication\.jwks_auto_fetch\.enabled = true;$/m);
  assert.match(r.stdout, /^SET CLUSTER SETTING server\.jwt_authentication\.claim = 'sub';$/m);
  const map = /server\.identity_map\.configuration = '([^']*)';/.exec(r.stdout)?.[1];
  assert.deepEqual(map?.split("\n"), [`${ISSUER} system:serviceaccount:bank:worker herald_${domain}_worker`, `${ISSUER} ledger-service herald_${domain}_consumer_ledger`]);
  assert.doesNotMatch(r.stdout, /payments/, "group mappings and clients are not mapped");
});

test("policy errors name their line", () => {
  const cases: Array<[string, RegExp]> = [
    [policy(GOOD).replace("audiences: herald", "audiences: []"), /line 4: issuers\.0\.audiences/],
    [policy(GOOD).replace(`role: client`, `role: admin`), /line 11: mappings\.1\.role: must be worker, client/],
    [policy(GOOD).replace(`      groups: [payments]`, `      email: [a@b.c]`), /line 13: mappings\.1\.match: Unrecognized key: "email"/],
    [policy(GOOD).replace(ISSUER, "http://idp.example.com"), /line 3: issuers\.0\.issuer: must be an https:\/\/ URL/],
    [policy(GOOD).replace(`    role: worker\n`, `    role: worker\n    maxLifetime: 3d\n`), /line 8: mappings\.0\.maxLifetime: must be a duration like 15m or 1h, at most 24h/],
    [policy(GOOD).replace(`      sub: ledger-service`, `      sub: ledger-service\n    domain: again`), /line 1[78]:.*(unique|Map keys)/i],
    ["version: 1\nissuers: [\n", /line [23]:/],
    [policy(GOOD).replace(`    role: worker\n`, `    role: worker\n    issuer: https://other.example.com\n`), /line 8: mappings\.0\.issuer: is not one of the trusted issuers/],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => parsePolicy(text, "p.yaml"), (err: unknown) => err instanceof PolicyError && expected.test(err.message), `expected ${expected}`);
  }
  const parsed = parsePolicy(policy(GOOD));
  assert.deepEqual(parsed.mappings.map((m) => [m.role, m.maxLifetimeSeconds]), [["worker", 3600], ["client", 3600], ["consumer:ledger", 3600]]);
  assert.deepEqual(parsed.issuers[0]!.algorithms, ["RS256", "ES256"]);
});
