import { cdcNatsRole, cdcUser } from "../security/cdc-role.js";
import { assertDomainName, assertJetStreamName, clientUser, consumerUser, workerUser } from "../security/naming.js";
import { domainPermissions, type NatsRole } from "../security/nats-permissions.js";
import { discoveryRequests } from "../protocol/services.js";
import { defaultStreamName } from "../protocol/subjects.js";

/**
 * The Herald roles an identity can be given, the same ones `herald
 * permissions` and `herald grants` print: `worker`, `client`,
 * `consumer:<durable>`, `cdc`, and a read-only `operator`.
 */
export type HeraldRoleName = "worker" | "client" | "cdc" | "operator" | `consumer:${string}`;

/** A role string that is not one of Herald's. */
export class UnknownRoleError extends TypeError {
  override readonly name = "UnknownRoleError";
}

const ROLE = /^(worker|client|cdc|operator|consumer:[A-Za-z0-9_-]{1,64})$/;

/** Checks a role string (`consumer:<durable>` with a JetStream durable name). */
export function parseRole(value: string): HeraldRoleName {
  if (typeof value !== "string" || !ROLE.test(value)) {
    throw new UnknownRoleError(`role ${JSON.stringify(String(value).slice(0, 80))} must be worker, client, cdc, operator or consumer:<durable>`);
  }
  return value as HeraldRoleName;
}

/** The durable of a `consumer:<durable>` role. */
export const durableOf = (role: HeraldRoleName): string | undefined => (role.startsWith("consumer:") ? role.slice("consumer:".length) : undefined);

/** The NATS user / database role name the role has in `herald permissions` and `herald grants`. */
export function roleUserName(domain: string, role: HeraldRoleName): string {
  const durable = durableOf(role);
  if (durable) return consumerUser(domain, durable);
  if (role === "worker") return workerUser(domain);
  if (role === "client") return clientUser(domain);
  if (role === "cdc") return cdcUser(domain);
  return `herald_${domain}_operator`;
}

/** Scoped signing key role name in the account JWT: `<domain>.<role>` with `:` as `.`. */
export const signingRoleName = (domain: string, role: HeraldRoleName): string => `${domain}.${role.replace(":", ".")}`;

/**
 * The read-only operator: looks at its domain's stream, consumers and
 * services, and changes nothing (no publish into the domain's subjects).
 */
export function operatorNatsRole(domain: string, stream = defaultStreamName(domain)): NatsRole {
  const api = "$JS.API";
  return {
    role: "client",
    user: `herald_${domain}_operator`,
    description: `reads ${stream}'s state and ${domain}'s service stats; changes nothing`,
    publish: {
      allow: [`${api}.STREAM.INFO.${stream}`, `${api}.CONSUMER.LIST.${stream}`, `${api}.CONSUMER.INFO.${stream}.*`, ...discoveryRequests(domain)],
    },
    subscribe: { allow: ["_INBOX.>"] },
    allowResponses: false,
  };
}

/**
 * The NATS permissions of one role of a domain, from the same generator as
 * `herald permissions` (src/security/nats-permissions.ts) and the CDC role.
 */
export function natsRoleFor(domain: string, role: HeraldRoleName, options: { stream?: string; cdcStream?: string } = {}): NatsRole {
  assertDomainName(domain);
  if (role === "cdc") return cdcNatsRole({ domain, stream: options.cdcStream });
  if (role === "operator") return operatorNatsRole(domain, options.stream);
  const durable = durableOf(role);
  const permissions = domainPermissions({ domain, stream: options.stream, consumers: durable ? [assertJetStreamName("consumer", durable)] : undefined });
  const found = permissions.roles.find((r) => (durable ? r.durable === durable : r.role === role));
  if (!found) throw new UnknownRoleError(`no NATS permissions for role ${role}`);
  return found;
}
