import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jwtAuthenticator, type NatsConnection, type Status } from "@nats-io/nats-core";
import { createUser } from "@nats-io/nkeys";
import { connect } from "@nats-io/transport-node";
import { bankApp } from "../../examples/bank/index.js";
import { migrateApp } from "../../src/db/migrate-app.js";
import type { HeraldTables } from "../../src/db/schema.js";
import { startIssuerServer, type IssuerServer } from "../../src/identity/issuer-server.js";
import { initIdentity, SERVER_CONFIG_FILE } from "../../src/identity/nats-account.js";
import { parsePolicy, type RolePolicy } from "../../src/identity/policy.js";
import { createTokenVerifier } from "../../src/identity/token-verifier.js";
import { fetchNatsCredentials, type OidcLoginOptions } from "../../src/messaging/oidc-login.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { uniqueDomain } from "../kit/names.js";
import { startNatsServer, type PrivateNatsServer } from "../kit/nats-server.js";
import { startOidcProvider, type TestOidcProvider } from "../kit/oidc-provider.js";
import { makeSelfSignedCert } from "../kit/tls-cert.js";

/**
 * One identity deployment for a test file: a trusted and an untrusted real
 * OpenID provider, `herald identity init`'s setup served by a private
 * nats-server in operator mode, the issuer over HTTPS (self-signed
 * certificate, its CA given to clients) and a database with Herald's tables.
 */
export interface IdentityFixture {
  domain: string;
  trusted: TestOidcProvider;
  untrusted: TestOidcProvider;
  policy: RolePolicy;
  policyText: string;
  dir: string;
  /** Policy, issuer certificate and key as files, for the CLI. */
  files: { policy: string; cert: string; key: string };
  nats: PrivateNatsServer;
  issuer: IssuerServer;
  caFile: string;
  database: TestDatabase<HeraldTables>;
  /** Writes a token to a new file in the fixture's directory; returns its path. */
  tokenFile(token: string, name?: string): Promise<string>;
  /** OIDC login options for `role` with the token in `tokenFile`. */
  login(tokenFile: string, role: string): OidcLoginOptions;
  /** Connects to the private server as a fresh NKey with credentials fetched for `role`; collects status events. */
  connectAs(token: string, role: string): Promise<{ nc: NatsConnection; nkey: string; statuses: Status[] }>;
  close(): Promise<void>;
}

/** Workload ids at the trusted provider, per role. */
export const workloadsOf = (domain: string) => ({
  client: `${domain}-client`,
  worker: `${domain}-worker`,
  ledger: `${domain}-ledger`,
  expiring: `${domain}-expiring`,
  cdc: `${domain}-cdc`,
});

export function policyYaml(issuer: string, domain: string): string {
  const w = workloadsOf(domain);
  return `version: 1
issuers:
  - issuer: ${issuer}
    audiences: [herald]
    algorithms: [ES256]
    allowInsecureLoopback: true
mappings:
  - domain: ${domain}
    role: client
    maxLifetime: 10m
    match:
      groups: [${domain}-clients]
  - domain: ${domain}
    role: worker
    maxLifetime: 1h
    match:
      sub: ${w.worker}
  - domain: ${domain}
    role: consumer:ledger
    match:
      sub: [${w.ledger}]
  - domain: ${domain}
    role: client
    match:
      sub: ${w.expiring}
  - domain: ${domain}
    role: cdc
    maxLifetime: 6s
    match:
      serviceAccount: ${domain.replaceAll("_", "-")}/cdc-bridge
`;
}

export async function startIdentityFixture(): Promise<IdentityFixture> {
  // First: without a database nothing else is started (and left running).
  const database = await createTestDatabase<HeraldTables>();
  await migrateApp(database.db, bankApp);
  const domain = uniqueDomain("idn");
  const w = workloadsOf(domain);
  const workloads = [
    { id: w.client, groups: [`${domain}-clients`] },
    { id: w.worker, groups: [`${domain}-workers`] },
    { id: w.ledger },
    { id: w.expiring, ttlSeconds: 1 },
    // Shaped like a Kubernetes projected service-account token.
    { id: w.cdc, claims: { "kubernetes.io": { namespace: domain.replaceAll("_", "-"), serviceaccount: { name: "cdc-bridge", uid: "0" } } } },
  ];
  const [trusted, untrusted] = await Promise.all([startOidcProvider(workloads), startOidcProvider(workloads)]);
  const work = await mkdtemp(join(tmpdir(), "herald-identity-"));
  const dir = join(work, "identity");
  await initIdentity({ dir, grants: ["worker", "client", "cdc", "consumer:ledger", "consumer:audit"].map((role) => ({ domain, role })) });
  const nats = await startNatsServer({ configFile: join(dir, SERVER_CONFIG_FILE) });
  const policyText = policyYaml(trusted.issuer, domain);
  const policy = parsePolicy(policyText);
  const cert = await makeSelfSignedCert();
  const caFile = join(work, "issuer-ca.pem");
  await writeFile(caFile, cert.cert);
  const files = { policy: join(work, "policy.yaml"), cert: caFile, key: join(work, "issuer.key") };
  await writeFile(files.policy, policyText);
  await writeFile(files.key, cert.key, { mode: 0o600 });
  const issuer = await startIssuerServer({ policy, verifier: createTokenVerifier(policy, { cooldownMs: 0 }), dir, db: database.db, port: 0, tls: cert, rate: { perSecond: 1000, burst: 1000 } });
  let tokenFiles = 0;
  const fixture: IdentityFixture = {
    domain,
    trusted,
    untrusted,
    policy,
    policyText,
    dir,
    files,
    nats,
    issuer,
    caFile,
    database,
    async tokenFile(token, name = `token-${++tokenFiles}`) {
      const path = join(work, name);
      await writeFile(path, `${token}\n`);
      return path;
    },
    login: (tokenFile, role) => ({ tokenFile, issuerUrl: issuer.url, caFile, domain, role }),
    async connectAs(token, role) {
      const user = createUser();
      const { jwt } = await fetchNatsCredentials(fixture.login(await fixture.tokenFile(token), role), user.getPublicKey());
      const nc = await connect({ servers: nats.url, authenticator: jwtAuthenticator(jwt, user.getSeed()), reconnect: false });
      const statuses: Status[] = [];
      void (async () => {
        for await (const s of nc.status()) statuses.push(s);
      })();
      return { nc, nkey: user.getPublicKey(), statuses };
    },
    async close() {
      await issuer.close();
      await Promise.allSettled([trusted.close(), untrusted.close()]);
      await nats.dispose();
      await database.drop();
      await rm(work, { recursive: true, force: true });
    },
  };
  return fixture;
}
