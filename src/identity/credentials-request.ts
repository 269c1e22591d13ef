import type { Kysely } from "kysely";
import { z } from "zod";
import type { HeraldTables } from "../db/schema.js";
import type { Logger } from "../telemetry/logger.js";
import { authorizeToken, RoleNotGrantedError } from "./authorize.js";
import { isRevoked, recordIssuance } from "./identity-store.js";
import { readManifest, signingKeyOf } from "./nats-account.js";
import type { RolePolicy } from "./policy.js";
import type { HeraldRoleName } from "./roles.js";
import { TokenRejectedError, type TokenVerifier } from "./token-verifier.js";
import { assertUserPublicKey, BadPublicKeyError, signUserJwt } from "./user-jwt.js";

/** What `POST /v1/nats/credentials` answers: a status and a JSON body. */
export interface IssuerAnswer {
  status: number;
  body: { jwt: string; expiresAt: string } | { error: { code: string; message: string } };
}

export interface CredentialsContext {
  policy: RolePolicy;
  verifier: TokenVerifier;
  /** Directory `herald identity init` wrote. */
  dir: string;
  db: Kysely<HeraldTables>;
  logger: Logger;
}

/** Longest bearer token accepted, in characters. */
export const MAX_TOKEN_LENGTH = 16 * 1024;

const bodySchema = z
  .object({
    publicKey: z.string().max(64),
    domain: z.string().regex(/^[a-z0-9_]{1,64}$/, "must be 1-64 characters of a-z, 0-9 and _"),
    role: z.string().regex(/^(worker|client|cdc|operator|consumer:[A-Za-z0-9_-]{1,64})$/, "must be worker, client, cdc, operator or consumer:<durable>"),
  })
  .strict();

const fail = (status: number, code: string, message: string): IssuerAnswer => ({ status, body: { error: { code, message } } });

/** The bearer token of an Authorization header, or an answer saying why there is none. */
function bearerOf(header: string | undefined): string | IssuerAnswer {
  if (!header) return fail(401, "missing_token", "send Authorization: Bearer <OIDC token>");
  const match = /^Bearer ([A-Za-z0-9._~+\/-]+=*)$/.exec(header);
  if (!match || match[1]!.length > MAX_TOKEN_LENGTH) return fail(401, "invalid_token", `the Authorization header must be "Bearer " and a JWT of at most ${MAX_TOKEN_LENGTH} characters`);
  return match[1]!;
}

function parseBody(text: string): z.infer<typeof bodySchema> | IssuerAnswer {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return fail(400, "bad_request", 'the body must be JSON: {"publicKey", "domain", "role"}');
  }
  const parsed = bodySchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return fail(400, "bad_request", `${issue.path.join(".") || "body"}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * One credentials request: bearer token and body in, a user JWT out, or a
 * JSON error. Nothing is signed unless the token, the role, the public key
 * and the revocation list all allow it, and nothing is handed out unless its
 * issuance is recorded.
 */
export async function answerCredentialsRequest(ctx: CredentialsContext, authorization: string | undefined, bodyText: string): Promise<IssuerAnswer> {
  const token = bearerOf(authorization);
  if (typeof token !== "string") return token;
  const body = parseBody(bodyText);
  if ("status" in body) return body;
  let grant;
  try {
    grant = await authorizeToken(ctx.verifier, ctx.policy, token, { domain: body.domain, role: body.role as HeraldRoleName });
  } catch (err) {
    if (err instanceof TokenRejectedError) return fail(err.code === "issuer_unavailable" ? 503 : 401, err.code, err.message);
    if (err instanceof RoleNotGrantedError) return fail(403, "role_not_granted", err.message);
    throw err;
  }
  const manifest = await readManifest(ctx.dir);
  const signingKey = manifest && signingKeyOf(ctx.dir, manifest, grant.domain, grant.role);
  if (!manifest || !signingKey) return fail(403, "role_not_configured", `no signing key for role ${grant.role} of domain ${grant.domain} (herald identity init)`);
  try {
    assertUserPublicKey(body.publicKey);
  } catch (err) {
    if (err instanceof BadPublicKeyError) return fail(400, "bad_public_key", err.message);
    throw err;
  }
  const iat = grant.token.claims.iat;
  if (await isRevoked(ctx.db, grant.subject, body.publicKey, iat === undefined ? undefined : new Date(iat * 1000))) {
    return fail(403, "revoked", "this identity or key has been revoked");
  }
  const jwt = await signUserJwt({ name: grant.subject, publicKey: body.publicKey, account: manifest.account, signingKey: await signingKey, expiresAt: grant.expiresAt });
  const jti = grant.token.claims.jti;
  await recordIssuance(ctx.db, {
    subject: grant.subject,
    issuer: grant.token.issuer.issuer,
    domain: grant.domain,
    role: grant.role,
    nkey: body.publicKey,
    expiresAt: grant.expiresAt,
    tokenId: typeof jti === "string" ? jti.slice(0, 256) : undefined,
  });
  ctx.logger.info({ subject: grant.subject, domain: grant.domain, role: grant.role, nkey: body.publicKey, expiresAt: grant.expiresAt.toISOString() }, "issued NATS credentials");
  return { status: 200, body: { jwt, expiresAt: grant.expiresAt.toISOString() } };
}
