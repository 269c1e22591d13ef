import { grantFor } from "./policy-match.js";
import type { RoleMapping, RolePolicy } from "./policy.js";
import type { HeraldRoleName } from "./roles.js";
import type { TokenVerifier, VerifiedToken } from "./token-verifier.js";

/** The token is valid but the policy gives it no such role. */
export class RoleNotGrantedError extends Error {
  override readonly name = "RoleNotGrantedError";
  constructor(
    readonly domain: string,
    readonly role: string,
  ) {
    super(`the policy does not give this identity role ${role} in domain ${domain}`);
  }
}

/** Who a token is and what the policy lets it be. */
export interface RoleGrant {
  readonly token: VerifiedToken;
  readonly mapping: RoleMapping;
  readonly domain: string;
  readonly role: HeraldRoleName;
  /** The OIDC `sub`. */
  readonly subject: string;
  /** When the grant ends: the token's expiry or the mapping's maximum lifetime from now, whichever is sooner. */
  readonly expiresAt: Date;
}

/**
 * Verifies an OIDC token and checks the policy gives it `role` in `domain`.
 * Throws TokenRejectedError (bad token) or RoleNotGrantedError. The issuer
 * uses it for NATS credentials; any other Herald surface (the console's
 * `operator` login) can call it the same way.
 */
export async function authorizeToken(
  verifier: TokenVerifier,
  policy: RolePolicy,
  token: string,
  request: { domain: string; role: HeraldRoleName },
  now = Date.now(),
): Promise<RoleGrant> {
  const verified = await verifier.verify(token);
  const mapping = grantFor(policy, verified.issuer, verified.claims, request.domain, request.role);
  if (!mapping) throw new RoleNotGrantedError(request.domain, request.role);
  const expiresAt = new Date(Math.min(verified.claims.exp * 1000, now + mapping.maxLifetimeSeconds * 1000));
  return { token: verified, mapping, domain: request.domain, role: request.role, subject: verified.claims.sub, expiresAt };
}
