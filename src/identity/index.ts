// The identity concern's public surface (docs/identity.md).
export { authorizeToken, RoleNotGrantedError, type RoleGrant } from "./authorize.js";
export { loadPolicy, parsePolicy, PolicyError, type RolePolicy, type RoleMapping, type TrustedIssuer } from "./policy.js";
export { createTokenVerifier, TokenRejectedError, type TokenVerifier, type TokenVerifierOptions, type VerifiedToken } from "./token-verifier.js";
export { parseRole, type HeraldRoleName } from "./roles.js";
export { startIssuerServer, type IssuerServer, type IssuerServerOptions } from "./issuer-server.js";
export { cockroachJwtSettings } from "./cockroach-jwt.js";
