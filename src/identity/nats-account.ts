import { join } from "node:path";
import { encodeAccount, encodeOperator, encodeUser, fmtCreds, newScopedSigner, type RevocationList, type SigningKey, type UserPermissionsLimits } from "@nats-io/jwt";
import { createAccount, createOperator, createUser, fromSeed, type KeyPair } from "@nats-io/nkeys";
import type { NatsRole } from "../security/nats-permissions.js";
import { readIfExists, writeFileAtomic } from "./key-files.js";
import { unexpiredRevocations } from "./revocation-list.js";
import { natsRoleFor, parseRole, signingRoleName, type HeraldRoleName } from "./roles.js";

/**
 * The decentralized NATS auth Herald's issuer signs users under: an
 * operator, a system account, one application account and one scoped signing
 * key per (domain, role), whose permission template is that role's
 * `herald permissions` entry. What is public (JWTs, public keys, the
 * revocation list) is in `identity.json`; private seeds are files of mode
 * 0600 under `keys/`.
 */
export interface IdentityManifest {
  version: 1;
  operator: string;
  systemAccount: string;
  account: string;
  /** `<domain>/<role>` → the role's scoped signing key (public). */
  signingKeys: Record<string, string>;
  /** Streams the templates were made for, by domain (default `<DOMAIN>_EVENTS` and `<DOMAIN>_CDC`). */
  streams: Record<string, { stream?: string; cdcStream?: string }>;
  /**
   * User NKey → revocation time (seconds): user JWTs of that key issued at or
   * before it are refused. Entries older than the longest credential lifetime
   * are dropped whenever the account is re-signed (src/identity/revocation-list.ts).
   */
  revocations: RevocationList;
}

export const MANIFEST_FILE = "identity.json";
export const SERVER_CONFIG_FILE = "nats-server.conf";
export const SYSTEM_CREDS_FILE = "system-user.creds";
const keyFile = (dir: string, name: string) => join(dir, "keys", `${name}.nk`);
const grantKey = (domain: string, role: string) => `${domain}/${role}`;

/** Unlimited account and JetStream limits: Herald scopes by subject, quotas are the operator's business. */
const ACCOUNT_LIMITS = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };

/** A role's user permissions as a scoped signing key template. */
export function templateOf(role: NatsRole): Partial<UserPermissionsLimits> {
  return {
    pub: { allow: [...role.publish.allow] },
    sub: { allow: [...role.subscribe.allow] },
    // max 1, ttl 0: the server's defaults for allow_responses.
    ...(role.allowResponses ? { resp: { max: 1, ttl: 0 } } : {}),
    subs: -1,
    data: -1,
    payload: -1,
  };
}

async function readSeed(dir: string, name: string): Promise<KeyPair> {
  const text = await readIfExists(keyFile(dir, name));
  if (!text) throw new Error(`the identity key ${name} is missing from ${join(dir, "keys")}`);
  return fromSeed(new TextEncoder().encode(text.trim()));
}

const writeSeed = (dir: string, name: string, kp: KeyPair) => writeFileAtomic(keyFile(dir, name), `${new TextDecoder().decode(kp.getSeed())}\n`);

/** Reads the manifest of an initialised directory, or undefined. */
export async function readManifest(dir: string): Promise<IdentityManifest | undefined> {
  const text = await readIfExists(join(dir, MANIFEST_FILE));
  return text ? (JSON.parse(text) as IdentityManifest) : undefined;
}

/** The scoped signing key pair of a role, for signing its users. */
export function signingKeyOf(dir: string, manifest: IdentityManifest, domain: string, role: HeraldRoleName): Promise<KeyPair> | undefined {
  return manifest.signingKeys[grantKey(domain, role)] ? readSeed(dir, signingRoleName(domain, role)) : undefined;
}

/** The account JWT as the manifest describes it, signed by the operator. */
export async function accountJwt(dir: string, manifest: IdentityManifest): Promise<string> {
  const operator = await readSeed(dir, "operator");
  const signing: SigningKey[] = Object.entries(manifest.signingKeys).map(([key, pub]) => {
    const [domain, role] = key.split("/") as [string, HeraldRoleName];
    const natsRole = natsRoleFor(domain, role, manifest.streams[domain] ?? {});
    const signer = newScopedSigner(pub, signingRoleName(domain, role), templateOf(natsRole));
    // The library fills in `resp: {max: 0, ttl: 0}`, which nats-server reads as allow_responses with its defaults.
    if (!natsRole.allowResponses) delete signer.template.resp;
    return signer;
  });
  return encodeAccount("herald", manifest.account, { limits: ACCOUNT_LIMITS, signing_keys: signing, revocations: { ...manifest.revocations } }, { signer: operator });
}

/** Writes the account JWT and the server config from the manifest, dropping revocations nothing can need any more. */
async function writeServerFiles(dir: string, manifest: IdentityManifest): Promise<string> {
  manifest.revocations = unexpiredRevocations(manifest.revocations);
  const operator = await readSeed(dir, "operator");
  const opJwt = await encodeOperator("herald", operator, { system_account: manifest.systemAccount });
  // The system account has no JetStream; its connection and subscription limits must be lifted too.
  const { mem_storage: _m, disk_storage: _d, streams: _s, consumer: _c, ...systemLimits } = ACCOUNT_LIMITS;
  const sysJwt = await encodeAccount("SYS", manifest.systemAccount, { limits: systemLimits }, { signer: operator });
  const appJwt = await accountJwt(dir, manifest);
  const config = [
    "# Decentralized JWT auth for Herald (herald identity init). Include it in the",
    "# server's config; the resolver stores account updates (revocations) it is sent.",
    `operator: ${opJwt}`,
    `system_account: ${manifest.systemAccount}`,
    "resolver: {",
    "  type: full",
    `  dir: ${JSON.stringify(join(dir, "jwt"))}`,
    "  allow_delete: false",
    "}",
    "resolver_preload: {",
    `  ${manifest.systemAccount}: ${sysJwt}`,
    `  ${manifest.account}: ${appJwt}`,
    "}",
    "",
  ].join("\n");
  await writeFileAtomic(join(dir, "account.jwt"), `${appJwt}\n`, 0o644);
  await writeFileAtomic(join(dir, SERVER_CONFIG_FILE), config, 0o644);
  await writeFileAtomic(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, 0o644);
  return appJwt;
}

export interface IdentityInitOptions {
  /** Directory for keys, JWTs and the server config. Required. */
  dir: string;
  /** Roles to give a signing key, per domain. Required, at least one. */
  grants: readonly { domain: string; role: string }[];
  /** Streams per domain when not the default ones. Default: `<DOMAIN>_EVENTS`, `<DOMAIN>_CDC`. */
  streams?: Record<string, { stream?: string; cdcStream?: string }>;
  /** Replace every signing key (users signed by the old ones stop working). Default false. */
  rotate?: boolean;
}

export interface IdentityInitResult {
  /** `created`, `unchanged`, `added` (new roles), or `rotated`. */
  outcome: "created" | "unchanged" | "added" | "rotated";
  manifest: IdentityManifest;
  /** Files written (paths), for the record; never their contents. */
  written: string[];
}

async function createBase(dir: string): Promise<IdentityManifest> {
  const operator = createOperator();
  const system = createAccount();
  const account = createAccount();
  const systemUser = createUser();
  await writeSeed(dir, "operator", operator);
  await writeSeed(dir, "system-account", system);
  await writeSeed(dir, "account", account);
  // A system user to push account updates (revocations) to the servers.
  const userJwt = await encodeUser("herald-identity", systemUser, system);
  await writeFileAtomic(join(dir, SYSTEM_CREDS_FILE), fmtCreds(userJwt, systemUser));
  return { version: 1, operator: operator.getPublicKey(), systemAccount: system.getPublicKey(), account: account.getPublicKey(), signingKeys: {}, streams: {}, revocations: {} };
}

/**
 * `herald identity init`: creates the operator, accounts and signing keys on
 * first run; on later runs changes nothing unless new roles are asked for
 * (added) or `rotate` is set (every signing key replaced).
 */
export async function initIdentity(options: IdentityInitOptions): Promise<IdentityInitResult> {
  if (options.grants.length === 0) throw new TypeError("name at least one domain and role");
  const requested = options.grants.map((g) => ({ domain: g.domain, role: parseRole(g.role) }));
  for (const g of requested) natsRoleFor(g.domain, g.role, options.streams?.[g.domain] ?? {});
  const existing = await readManifest(options.dir);
  const manifest = existing ?? (await createBase(options.dir));
  const missing = requested.filter((g) => !manifest.signingKeys[grantKey(g.domain, g.role)]);
  if (existing && missing.length === 0 && !options.rotate) return { outcome: "unchanged", manifest, written: [] };
  const existingRoles = Object.keys(manifest.signingKeys).map((k) => k.split("/") as [string, HeraldRoleName]);
  const renew = [...(options.rotate ? existingRoles : []), ...missing.map((g): [string, HeraldRoleName] => [g.domain, g.role])];
  const written: string[] = [];
  for (const [domain, role] of renew) {
    const kp = createAccount();
    await writeSeed(options.dir, signingRoleName(domain, role), kp);
    written.push(keyFile(options.dir, signingRoleName(domain, role)));
    manifest.signingKeys[grantKey(domain, role)] = kp.getPublicKey();
  }
  for (const [domain, streams] of Object.entries(options.streams ?? {})) manifest.streams[domain] = streams;
  await writeServerFiles(options.dir, manifest);
  written.push(join(options.dir, "account.jwt"), join(options.dir, SERVER_CONFIG_FILE), join(options.dir, MANIFEST_FILE));
  return { outcome: existing ? (options.rotate ? "rotated" : "added") : "created", manifest, written };
}

/** Adds user NKeys to the account's revocations and rewrites the account JWT and config; returns the new account JWT. */
export async function addRevocations(dir: string, nkeys: readonly string[], at = Math.floor(Date.now() / 1000)): Promise<string> {
  const manifest = await readManifest(dir);
  if (!manifest) throw new Error(`${dir} holds no identity setup (run herald identity init)`);
  for (const key of nkeys) manifest.revocations[key] = at;
  return writeServerFiles(dir, manifest);
}
