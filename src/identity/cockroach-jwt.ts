import { quoteLiteral } from "../security/naming.js";
import type { RolePolicy } from "./policy.js";
import { roleUserName, type HeraldRoleName } from "./roles.js";

/**
 * `herald identity cockroach`: the cluster settings and identity map that let
 * the same OIDC tokens log in to CockroachDB as the role's SQL user (cluster
 * SSO with JWTs, CockroachDB docs "Cluster Single Sign-on (SSO) using JSON
 * Web Tokens", v22.2+; settings checked in docs/cockroachdb.md). The token
 * goes in the password field with `options=--crdb:jwt_auth_enabled=true`.
 *
 * CockroachDB maps one claim (`server.jwt_authentication.claim`, here `sub`)
 * through the identity map; mappings by groups or roles cannot be expressed
 * there and are listed as comments, to be granted another way.
 */
export function cockroachJwtSettings(policy: RolePolicy): string {
  const issuers = policy.issuers.map((i) => i.issuer);
  const audiences = [...new Set(policy.issuers.flatMap((i) => i.audiences))];
  const lines: string[] = [];
  const skipped: string[] = [];
  for (const m of policy.mappings) {
    // Clients send commands over NATS only: they have no SQL user.
    if (m.role === "client") continue;
    const user = roleUserName(m.domain, m.role as HeraldRoleName);
    const subjects = [...(m.match.sub ?? []), ...(m.match.serviceAccount ?? []).map((sa) => `system:serviceaccount:${sa.replace("/", ":")}`)];
    // Groups and roles must hold too when a mapping lists them: the map alone would grant more.
    if (m.match.groups || m.match.roles || subjects.length === 0) {
      skipped.push(`-- not mapped (needs groups/roles, which the identity map cannot check): ${m.domain} ${m.role}`);
      continue;
    }
    for (const iss of m.issuer ? [m.issuer] : issuers) {
      for (const sub of subjects) {
        if (/\s/.test(sub) || sub.startsWith("/")) skipped.push(`-- not mapped (subject with spaces or a leading /): ${m.domain} ${m.role}`);
        else lines.push(`${iss} ${sub} ${user}`);
      }
    }
  }
  return [
    "-- CockroachDB JWT login for Herald's roles (herald identity cockroach). Run as admin.",
    "-- Connect with the OIDC token as the password: postgresql://<sql user>:<token>@host:26257/db?options=--crdb:jwt_auth_enabled=true",
    "SET CLUSTER SETTING server.jwt_authentication.enabled = true;",
    `SET CLUSTER SETTING server.jwt_authentication.issuers = ${quoteLiteral(JSON.stringify(issuers))};`,
    `SET CLUSTER SETTING server.jwt_authentication.audience = ${quoteLiteral(JSON.stringify(audiences))};`,
    "SET CLUSTER SETTING server.jwt_authentication.jwks_auto_fetch.enabled = true;",
    "SET CLUSTER SETTING server.jwt_authentication.claim = 'sub';",
    `SET CLUSTER SETTING server.identity_map.configuration = ${quoteLiteral(lines.join("\n"))};`,
    ...skipped,
    "",
  ].join("\n");
}
