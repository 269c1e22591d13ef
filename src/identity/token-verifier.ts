import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from "jose";
import type { RolePolicy, TrustedIssuer } from "./policy.js";

/** Why a token was refused; `code` goes into the issuer's answer, the message never quotes the token. */
export class TokenRejectedError extends Error {
  override readonly name = "TokenRejectedError";
  constructor(
    readonly code: "invalid_token" | "untrusted_issuer" | "expired_token" | "wrong_audience" | "bad_algorithm" | "unknown_key" | "issuer_unavailable",
    message: string,
  ) {
    super(message);
  }
}

export interface VerifiedToken {
  readonly issuer: TrustedIssuer;
  readonly claims: JWTPayload & { sub: string; exp: number };
}

export interface TokenVerifierOptions {
  /** Time allowed for discovery and JWKS requests, in ms. Default 5000. */
  timeoutMs?: number;
  /** How long fetched keys are used before being fetched again, in ms. Default 600000 (10 min). */
  cacheMaxAgeMs?: number;
  /** Least time between two JWKS fetches for an unknown `kid` (key rotation), in ms. Default 30000. */
  cooldownMs?: number;
}

/** Verifies OIDC tokens against the trusted issuers of a policy. */
export interface TokenVerifier {
  verify(token: string): Promise<VerifiedToken>;
}

type KeySet = ReturnType<typeof createRemoteJWKSet>;

/** OIDC discovery: the issuer's metadata must name itself exactly and give a JWKS URL. */
async function discoverJwksUri(issuer: TrustedIssuer, timeoutMs: number): Promise<URL> {
  const url = `${issuer.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "error" });
  if (!response.ok) throw new Error(`discovery answered ${response.status}`);
  const metadata = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
  if (metadata.issuer !== issuer.issuer) throw new Error("discovery names another issuer");
  if (typeof metadata.jwks_uri !== "string") throw new Error("discovery has no jwks_uri");
  const jwks = new URL(metadata.jwks_uri);
  if (jwks.protocol !== "https:" && !(issuer.allowInsecureLoopback && new URL(issuer.issuer).host === jwks.host)) throw new Error("jwks_uri is not https");
  return jwks;
}

/** Maps jose's errors to the few refusals callers distinguish. */
function rejection(err: unknown): TokenRejectedError {
  if (err instanceof TokenRejectedError) return err;
  if (err instanceof errors.JWTExpired) return new TokenRejectedError("expired_token", "the token has expired");
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === "aud") return new TokenRejectedError("wrong_audience", "the token is not meant for Herald (aud)");
    return new TokenRejectedError("invalid_token", `the token's ${err.claim} claim is not acceptable (${err.reason})`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return new TokenRejectedError("bad_algorithm", "the token's algorithm is not allowed");
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) return new TokenRejectedError("unknown_key", "no key of the issuer matches the token's kid");
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) return new TokenRejectedError("issuer_unavailable", "the issuer's keys cannot be fetched");
  return new TokenRejectedError("invalid_token", "the token's signature or format is not valid");
}

/**
 * A verifier with one cached JWKS per trusted issuer (found by discovery on
 * first use). jose refetches the set when a token names an unknown `kid`, at
 * most once per cooldown, so key rotation at the provider needs no restart.
 * Checked: signature, `alg` in the issuer's allow-list (never `none` or
 * HMAC), `iss`, `aud`, `exp` (required), `nbf`, and a `sub`.
 */
export function createTokenVerifier(policy: RolePolicy, options: TokenVerifierOptions = {}): TokenVerifier {
  const timeoutMs = options.timeoutMs ?? 5000;
  const keySets = new Map<string, Promise<KeySet>>();
  const keySetOf = (issuer: TrustedIssuer): Promise<KeySet> => {
    let found = keySets.get(issuer.issuer);
    if (!found) {
      found = discoverJwksUri(issuer, timeoutMs).then((uri) =>
        createRemoteJWKSet(uri, { timeoutDuration: timeoutMs, cacheMaxAge: options.cacheMaxAgeMs ?? 600_000, cooldownDuration: options.cooldownMs ?? 30_000 }),
      );
      // A failed discovery is tried again by the next request.
      found.catch(() => keySets.delete(issuer.issuer));
      keySets.set(issuer.issuer, found);
    }
    return found;
  };

  return {
    async verify(token) {
      let iss: unknown;
      let alg: unknown;
      try {
        alg = decodeProtectedHeader(token).alg;
        iss = decodeJwt(token).iss;
      } catch {
        throw new TokenRejectedError("invalid_token", "the bearer value is not a JWT");
      }
      const issuer = policy.issuers.find((i) => i.issuer === iss);
      if (!issuer) throw new TokenRejectedError("untrusted_issuer", "the token's issuer is not trusted by the policy");
      if (typeof alg !== "string" || !(issuer.algorithms as readonly string[]).includes(alg)) {
        throw new TokenRejectedError("bad_algorithm", "the token's algorithm is not allowed");
      }
      let keys: KeySet;
      try {
        keys = await keySetOf(issuer);
      } catch {
        throw new TokenRejectedError("issuer_unavailable", "the issuer's discovery document cannot be read");
      }
      try {
        const { payload } = await jwtVerify(token, keys, {
          issuer: issuer.issuer,
          audience: [...issuer.audiences],
          algorithms: [...issuer.algorithms],
          requiredClaims: ["exp", "sub"],
          clockTolerance: issuer.clockToleranceSeconds,
        });
        return { issuer, claims: payload as VerifiedToken["claims"] };
      } catch (err) {
        throw rejection(err);
      }
    },
  };
}
