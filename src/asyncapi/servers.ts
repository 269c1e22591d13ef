import type { DomainPermissions, NatsRole } from "../security/nats-permissions.js";
import { passwordVariable } from "../security/nats-config-render.js";

/** An AsyncAPI 3.0 Server Object, as plain data. */
export type ServerObject = Record<string, unknown>;

/** A NATS URL the document cannot name as a server. */
export class ServerUrlError extends Error {
  override readonly name = "ServerUrlError";
  constructor(readonly url: string) {
    super(`NATS server URL "${url}" is not a nats://, tls://, ws:// or wss:// URL with a host`);
  }
}

/** The scheme id of a role's user (`client`, `worker`, `consumer_reader`). */
export const roleSchemeId = (role: NatsRole): string => (role.durable ? `${role.role}_${role.durable}` : role.role);

/**
 * One server per URL of the comma-separated NATS_URL list. Only host and port
 * are kept: user names, passwords and tokens in a URL never reach the document.
 */
export function natsServers(urls: string, securityRefs: readonly string[]): Record<string, ServerObject> {
  const servers: Record<string, ServerObject> = {};
  const parts = urls.split(",").map((u) => u.trim()).filter(Boolean);
  parts.forEach((text, i) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new ServerUrlError(text.replace(/\/\/[^@/]*@/, "//…@"));
    }
    const scheme = url.protocol.slice(0, -1);
    if (!["nats", "tls", "ws", "wss"].includes(scheme) || !url.hostname) throw new ServerUrlError(`${scheme}://${url.host}`);
    const secure = scheme === "tls" || scheme === "wss";
    const websocket = scheme === "ws" || scheme === "wss";
    servers[parts.length === 1 ? "nats" : `nats_${i + 1}`] = {
      host: url.port ? `${url.hostname}:${url.port}` : url.hostname,
      protocol: websocket ? scheme : "nats",
      description: `NATS server${secure ? " (TLS required)" : ""}. Any of the security schemes authenticates; each grants only its role's subjects.`,
      security: securityRefs.map((id) => ({ $ref: `#/components/securitySchemes/${id}` })),
    };
  });
  return servers;
}

const list = (subjects: readonly string[]): string => subjects.map((s) => `\`${s}\``).join(", ");

/**
 * One userPassword scheme per role of `herald permissions`: the user name, where
 * its password comes from, and exactly what it may publish and subscribe to.
 * The same users can sign in with an NKey or a creds file instead (NATS_NKEY_SEED_FILE,
 * NATS_CREDS_FILE); their permissions are the same.
 */
export function roleSecuritySchemes(permissions: DomainPermissions): Record<string, Record<string, unknown>> {
  const schemes: Record<string, Record<string, unknown>> = {};
  for (const role of permissions.roles) {
    schemes[roleSchemeId(role)] = {
      type: "userPassword",
      description: [
        `NATS user \`${role.user}\` (${role.role}): ${role.description}.`,
        `Password: the nats-server's environment variable \`${passwordVariable(role.user)}\` (see \`herald permissions\`); the process signs in with NATS_USER/NATS_PASSWORD, or with an NKey or creds file holding the same permissions.`,
        `Publish: ${list(role.publish.allow)}.`,
        `Subscribe: ${list(role.subscribe.allow)}.`,
        role.allowResponses ? "May answer the requests it receives (allow_responses)." : "",
      ]
        .filter(Boolean)
        .join(" "),
      "x-herald-user": role.user,
      "x-herald-permissions": { publish: [...role.publish.allow], subscribe: [...role.subscribe.allow], allowResponses: role.allowResponses },
    };
  }
  return schemes;
}
