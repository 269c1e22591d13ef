import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { decode, type Account } from "@nats-io/jwt";
import { createUser } from "@nats-io/nkeys";
import { addRevocations, initIdentity, MANIFEST_FILE, readManifest } from "../../src/identity/nats-account.js";
import { MAX_LIFETIME_SECONDS } from "../../src/identity/policy.js";
import { REVOCATION_CLOCK_SLACK_SECONDS, unexpiredRevocations } from "../../src/identity/revocation-list.js";
import { uniqueDomain } from "../kit/names.js";

// A revocation only matters while a credential signed before it can still be
// valid: the account JWT drops it once the longest lifetime has passed.
let work: string;
let dir: string;
const domain = uniqueDomain("rvl");
const now = () => Math.floor(Date.now() / 1000);
const key = () => createUser().getPublicKey();
/** Past the longest credential lifetime (and the clock slack) by a minute. */
const stale = () => now() - MAX_LIFETIME_SECONDS - REVOCATION_CLOCK_SLACK_SECONDS - 60;

async function plantRevocations(revocations: Record<string, number>): Promise<void> {
  const manifest = (await readManifest(dir))!;
  await writeFile(join(dir, MANIFEST_FILE), `${JSON.stringify({ ...manifest, revocations: { ...manifest.revocations, ...revocations } }, null, 2)}\n`);
}

const accountRevocations = async () => decode<Account>((await readFile(join(dir, "account.jwt"), "utf8")).trim()).nats.revocations ?? {};

before(async () => {
  work = await mkdtemp(join(tmpdir(), "herald-revlist-"));
  dir = join(work, "identity");
  await initIdentity({ dir, grants: [{ domain, role: "client" }] });
});
after(() => rm(work, { recursive: true, force: true }));

test("a revoke drops revocations older than the longest credential lifetime and keeps fresh ones", async () => {
  const old = key();
  const fresh = key();
  await plantRevocations({ [old]: stale(), [fresh]: now() - 3600 });
  const revoked = key();
  const jwt = await addRevocations(dir, [revoked]);
  const inJwt = decode<Account>(jwt).nats.revocations ?? {};
  assert.deepEqual(Object.keys(inJwt).sort(), [fresh, revoked].sort());
  assert.deepEqual(await accountRevocations(), inJwt, "account.jwt is the pushed JWT");
  assert.deepEqual(Object.keys((await readManifest(dir))!.revocations).sort(), [fresh, revoked].sort(), "the manifest agrees with the JWT");
  assert.match(await readFile(join(dir, "nats-server.conf"), "utf8"), new RegExp(jwt), "the server config preloads the same JWT");
});

test("a signing-key rotation re-signs the account without stale revocations", async () => {
  const old = key();
  const fresh = key();
  await plantRevocations({ [old]: stale(), [fresh]: now() - 60 });
  const result = await initIdentity({ dir, grants: [{ domain, role: "client" }], rotate: true });
  assert.equal(result.outcome, "rotated");
  const left = await accountRevocations();
  assert.ok(!(old in left), "the stale revocation is gone");
  assert.ok(fresh in left, "the fresh revocation is kept");
});

test("unexpiredRevocations keeps an entry until the lifetime and the slack have both passed", () => {
  const t = 1_000_000;
  const edge = t - 600 - REVOCATION_CLOCK_SLACK_SECONDS;
  assert.deepEqual(unexpiredRevocations({ gone: edge, kept: edge + 1, recent: t }, t, 600), { kept: edge + 1, recent: t });
  assert.deepEqual(unexpiredRevocations({}, t), {});
});
