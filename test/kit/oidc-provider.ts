import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";
import Provider from "oidc-provider";

/** A workload registered at the provider: a client_credentials client whose tokens carry these claims. */
export interface TestWorkload {
  id: string;
  /** `groups` claim. Default none. */
  groups?: string[];
  /** More claims (e.g. `kubernetes.io`). Default none. */
  claims?: Record<string, unknown>;
  /** Access token lifetime in seconds. Default 300. */
  ttlSeconds?: number;
}

/** A real OpenID provider (oidc-provider) on loopback, issuing JWT access tokens per RFC 8707 resource. */
export interface TestOidcProvider {
  readonly issuer: string;
  /** A JWT access token for `workload` with audience `audience` (default the provider's). */
  token(workload: string, options?: { resource?: string }): Promise<string>;
  close(): Promise<void>;
}

/** The resource (RFC 8707) whose tokens have audience `herald`; `urn:other` gives audience `other`. */
export const HERALD_RESOURCE = "urn:herald";
const SECRET = "test-secret-of-a-throwaway-provider-0123456789";

/**
 * Starts oidc-provider with the client_credentials grant and resource
 * indicators, so each token is an ES256-signed JWT with `aud` and a short
 * lifetime, and its discovery document and JWKS are served as in production
 * (plain HTTP on 127.0.0.1: the policy allows it with allowInsecureLoopback).
 */
export async function startOidcProvider(workloads: readonly TestWorkload[]): Promise<TestOidcProvider> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: `k-${Math.random().toString(36).slice(2, 10)}`, alg: "ES256", use: "sig" };
  const byId = new Map(workloads.map((w) => [w.id, w]));
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: workloads.map((w) => ({
      client_id: w.id,
      client_secret: SECRET,
      grant_types: ["client_credentials"],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: "client_secret_post",
      id_token_signed_response_alg: "ES256",
    })),
    jwks: { keys: [jwk] },
    ttl: { ClientCredentials: (_ctx: unknown, _token: unknown, client: { clientId: string }) => byId.get(client.clientId)?.ttlSeconds ?? 300 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => HERALD_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string, client: { clientId: string }) => ({
          scope: "nats",
          audience: resource === HERALD_RESOURCE ? "herald" : "other",
          accessTokenFormat: "jwt",
          accessTokenTTL: byId.get(client.clientId)?.ttlSeconds ?? 300,
          jwt: { sign: { alg: "ES256" } },
        }),
      },
    },
    extraTokenClaims: (_ctx: unknown, token: { clientId: string }) => {
      const w = byId.get(token.clientId);
      return { ...(w?.groups ? { groups: w.groups } : {}), ...(w?.claims ?? {}) };
    },
  });
  server.on("request", provider.callback());
  return {
    issuer,
    async token(workload, options = {}) {
      const response = await fetch(`${issuer}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "client_credentials", client_id: workload, client_secret: SECRET, scope: "nats", resource: options.resource ?? HERALD_RESOURCE }),
      });
      const body = (await response.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!body.access_token) throw new Error(`no token for ${workload}: ${body.error} ${body.error_description ?? ""}`);
      return body.access_token;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
