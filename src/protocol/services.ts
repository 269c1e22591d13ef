import { appliedService } from "./applied.js";

/**
 * The NATS micro services of a domain and their `$SRV` discovery subjects.
 * Each service is named after its domain, so answering (or asking) discovery
 * stays within the domain: the worker's command service is `<domain>`, the
 * consumers' applied endpoints are `<domain>-applied` (docs/protocol.md).
 */

const VERBS = ["PING", "INFO", "STATS"] as const;

/** Names of a domain's micro services. */
export const domainServices = (domain: string): string[] => [domain, appliedService(domain)];

/**
 * What an instance of `service` subscribes to for discovery: each verb to all
 * services (`$SRV.PING`), by name and by instance id.
 */
export function discoverySubjects(service: string): string[] {
  return VERBS.flatMap((verb) => [`$SRV.${verb}`, `$SRV.${verb}.${service}`, `$SRV.${verb}.${service}.*`]);
}

/** What a requester asks of `service`: each verb by name. */
export const discoveryRequests = (service: string): string[] => VERBS.map((verb) => `$SRV.${verb}.${service}`);

/** Whether a subject is `$SRV` discovery of one of the domain's own services. */
export function isDomainDiscovery(subject: string, domain: string): boolean {
  return domainServices(domain).some((service) => discoverySubjects(service).includes(subject));
}
