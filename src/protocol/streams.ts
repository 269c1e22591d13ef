import { defaultStreamName } from "./subjects.js";

/**
 * The JetStream streams a domain owns by Herald's naming. The audits take a
 * JetStream API subject naming one of these as within the domain, so every
 * default stream name is made here and nowhere else.
 */

/** Default stream that keeps the dead letters of consumers without a database: `<DOMAIN>_DLQ` on `<domain>.dlq.>`. */
export const defaultDeadLetterStream = (domain: string): string => `${domain.toUpperCase()}_DLQ`;

/** Default stream of a domain's CDC messages, e.g. `BANK_CDC`. */
export const defaultCdcStreamName = (domain: string): string => `${domain.toUpperCase()}_CDC`;

/** Stream names a deployment chose instead of the defaults. */
export interface DomainStreamNames {
  /** Events stream. Default `<DOMAIN>_EVENTS`. */
  stream?: string;
  /** CDC stream. Default `<DOMAIN>_CDC`. */
  cdcStream?: string;
}

/** Every stream of a domain: its events, its dead letters and its CDC changes. */
export function domainStreams(domain: string, names: DomainStreamNames = {}): string[] {
  return [names.stream ?? defaultStreamName(domain), defaultDeadLetterStream(domain), names.cdcStream ?? defaultCdcStreamName(domain)];
}
