import { randomBytes } from "node:crypto";
import { nkeys } from "@nats-io/nats-core";

/**
 * A minimal NATS decentralized-auth setup made in the test: an operator, a
 * system account, one account and a user of it, as JWTs signed with NKeys
 * (the format nsc writes), and the server config and `.creds` file using them.
 */
type KeyPair = ReturnType<typeof nkeys.createUser>;

const b64 = (data: Uint8Array | string): string => Buffer.from(data).toString("base64url");
const limits = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };

function jwt(claims: Record<string, unknown>, signer: KeyPair): string {
  const header = b64(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" }));
  const body = b64(JSON.stringify({ jti: b64(randomBytes(16)), iat: Math.floor(Date.now() / 1000), iss: signer.getPublicKey(), ...claims }));
  return `${header}.${body}.${b64(signer.sign(new TextEncoder().encode(`${header}.${body}`)))}`;
}

export interface OperatorSetup {
  /** nats-server config trusting the operator, with the accounts preloaded. */
  config: string;
  /** A `.creds` file's text for a new user of the account. */
  creds: string;
}

export function operatorSetup(): OperatorSetup {
  const operator = nkeys.createOperator();
  const system = nkeys.createAccount();
  const account = nkeys.createAccount();
  const user = nkeys.createUser();
  const opJwt = jwt({ name: "test-operator", sub: operator.getPublicKey(), nats: { type: "operator", version: 2 } }, operator);
  const accountJwt = (kp: KeyPair, name: string) => jwt({ name, sub: kp.getPublicKey(), nats: { type: "account", version: 2, limits } }, operator);
  const userJwt = jwt({ name: "test-user", sub: user.getPublicKey(), nats: { type: "user", version: 2, pub: {}, sub: {}, subs: -1, data: -1, payload: -1 } }, account);
  const config = [
    `operator: ${opJwt}`,
    `system_account: ${system.getPublicKey()}`,
    "resolver: MEMORY",
    "resolver_preload: {",
    `  ${system.getPublicKey()}: ${accountJwt(system, "SYS")}`,
    `  ${account.getPublicKey()}: ${accountJwt(account, "APP")}`,
    "}",
    "",
  ].join("\n");
  const creds = [
    "-----BEGIN NATS USER JWT-----",
    userJwt,
    "------END NATS USER JWT------",
    "",
    "-----BEGIN USER NKEY SEED-----",
    new TextDecoder().decode(user.getSeed()),
    "------END USER NKEY SEED------",
    "",
  ].join("\n");
  return { config, creds };
}
