import type { JWTPayload } from "jose";
import type { RoleMapping, RolePolicy, TrustedIssuer } from "./policy.js";
import type { HeraldRoleName } from "./roles.js";

/** A claim by dotted path (`realm_access.roles`); a top-level key with dots in it is found first. */
function claimAt(claims: JWTPayload, path: string): unknown {
  if (path in claims) return claims[path];
  return path.split(".").reduce<unknown>((value, key) => (value && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined), claims);
}

const strings = (value: unknown): string[] =>
  typeof value === "string" ? [value] : Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];

/** `<namespace>/<name>` of a Kubernetes service-account token (its `kubernetes.io` claim, or its `sub`). */
export function serviceAccountOf(claims: JWTPayload): string | undefined {
  const k8s = claims["kubernetes.io"] as { namespace?: unknown; serviceaccount?: { name?: unknown } } | undefined;
  if (typeof k8s?.namespace === "string" && typeof k8s.serviceaccount?.name === "string") return `${k8s.namespace}/${k8s.serviceaccount.name}`;
  const match = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(claims.sub ?? "");
  return match ? `${match[1]}/${match[2]}` : undefined;
}

/** Whether the token's claims meet a mapping's `match` (every listed kind, any value of each). */
export function claimsMatch(mapping: RoleMapping, issuer: TrustedIssuer, claims: JWTPayload): boolean {
  const { sub, groups, roles, serviceAccount } = mapping.match;
  const anyOf = (wanted: readonly string[] | undefined, held: readonly string[]) => !wanted || wanted.some((w) => held.includes(w));
  const account = serviceAccountOf(claims);
  return (
    anyOf(sub, claims.sub ? [claims.sub] : []) &&
    anyOf(groups, strings(claimAt(claims, issuer.groupsClaim))) &&
    anyOf(roles, strings(claimAt(claims, issuer.rolesClaim))) &&
    anyOf(serviceAccount, account ? [account] : [])
  );
}

/**
 * The mapping that gives these claims `role` in `domain`, or undefined. When
 * several do, the one with the shortest lifetime wins: the policy never
 * grants more than its most careful line.
 */
export function grantFor(policy: RolePolicy, issuer: TrustedIssuer, claims: JWTPayload, domain: string, role: HeraldRoleName): RoleMapping | undefined {
  return policy.mappings
    .filter((m) => m.domain === domain && m.role === role && (!m.issuer || m.issuer === issuer.issuer) && claimsMatch(m, issuer, claims))
    .sort((a, b) => a.maxLifetimeSeconds - b.maxLifetimeSeconds)[0];
}
