import { authorizeToken, RoleNotGrantedError, type RoleGrant } from "../identity/authorize.js";
import type { RolePolicy } from "../identity/policy.js";
import { createTokenVerifier, TokenRejectedError, type TokenVerifier, type VerifiedToken } from "../identity/token-verifier.js";
import { OperatorRefusedError, type Operator, type OperatorAuthenticator } from "./operator-auth.js";

export interface OidcAuthenticatorOptions {
  /** Verifies the tokens. Default: `createTokenVerifier(policy)` (discovery and JWKS of each trusted issuer, cached). */
  verifier?: TokenVerifier;
}

/** The name recorded in the operator log: the token's subject and, since subjects are per issuer, its issuer. */
export const oidcOperatorName = (subject: string, issuer: string): string => `${subject} (${issuer})`;

/** A bad token is 401; its message (from the verifier) never quotes the token. */
async function verified(verifier: TokenVerifier, token: string): Promise<VerifiedToken> {
  try {
    return await verifier.verify(token.trim());
  } catch (err) {
    if (err instanceof TokenRejectedError) throw new OperatorRefusedError(401, `the OIDC token was refused: ${err.message}`);
    throw err;
  }
}

/** The operator grant in `domain`, or undefined when the policy gives this identity none there. */
async function operatorGrant(policy: RolePolicy, token: VerifiedToken, domain: string): Promise<RoleGrant | undefined> {
  // The token is verified once; each domain only checks the policy's mappings.
  const once: TokenVerifier = { verify: async () => token };
  try {
    return await authorizeToken(once, policy, "", { domain, role: "operator" });
  } catch (err) {
    if (err instanceof RoleNotGrantedError) return undefined;
    throw err;
  }
}

function operatorOf(token: VerifiedToken, grants: readonly RoleGrant[]): Operator {
  const byDomain = new Map(grants.map((g) => [g.domain, g.expiresAt.getTime()]));
  return { name: oidcOperatorName(token.claims.sub, token.issuer.issuer), via: "oidc", grants: byDomain, expiresAt: Math.max(...byDomain.values()) };
}

/**
 * Operators sign in with an OIDC token the role policy maps to `operator`:
 * pasted into the sign-in form (the session may act in every domain the
 * policy grants, and ends when the token or the mapping's lifetime does), or
 * sent as `Authorization: Bearer` with each scripted action (checked for that
 * action's domain). The token itself is never kept, logged nor rendered.
 */
export function oidcAuthenticator(policy: RolePolicy, options: OidcAuthenticatorOptions = {}): OperatorAuthenticator {
  const verifier = options.verifier ?? createTokenVerifier(policy);
  const operatorDomains = [...new Set(policy.mappings.filter((m) => m.role === "operator").map((m) => m.domain))];
  return {
    method: "form",
    label: "OIDC token (operator)",
    async verify(credential) {
      const token = await verified(verifier, credential);
      const grants = (await Promise.all(operatorDomains.map((d) => operatorGrant(policy, token, d)))).filter((g): g is RoleGrant => g !== undefined);
      if (grants.length === 0) throw new OperatorRefusedError(403, "the policy gives this identity the operator role in no domain");
      return operatorOf(token, grants);
    },
    async bearer(credential, domain) {
      const token = await verified(verifier, credential);
      const grant = await operatorGrant(policy, token, domain);
      if (!grant) throw new OperatorRefusedError(403, `the policy does not give this identity the operator role in domain ${domain}`);
      return operatorOf(token, [grant]);
    },
  };
}
