/** Subject and name rules of the wire protocol (docs/protocol.md). */

const SEGMENT = /^[a-z0-9_]{1,64}$/;

/** True for a lowercase `[a-z0-9_]` subject segment (domain, command or event name). */
export function isSegment(value: string): boolean {
  return SEGMENT.test(value);
}

/** Throws a clear error unless `value` is a valid segment. */
export function assertSegment(kind: string, value: string): void {
  if (!isSegment(value)) {
    throw new TypeError(`${kind} "${value}" must be 1-64 characters of lowercase a-z, 0-9 and _`);
  }
}

export const commandSubject = (domain: string, command: string): string => `${domain}.cmd.${command}`;
export const eventSubject = (domain: string, event: string): string => `${domain}.evt.${event}`;
export const eventWildcard = (domain: string): string => `${domain}.evt.>`;

/** Default JetStream stream of a domain's events, e.g. `BANK_EVENTS`. */
export const defaultStreamName = (domain: string): string => `${domain.toUpperCase()}_EVENTS`;

/** Queue group every worker of a domain joins, so they share the load. */
export const queueGroup = (domain: string): string => `herald-${domain}`;

/** CloudEvents `ce-type` and `ce-source` of a domain's event. */
export const eventType = (domain: string, event: string): string => `${domain}.${event}`;
export const eventSource = (domain: string): string => `herald/${domain}`;
