import type { EventRef } from "./replies.js";

/**
 * The "have you applied these events?" endpoint of a consumer (docs/protocol.md):
 * `<domain>.applied.<durable>`, served by every instance of the durable in one
 * queue group, discoverable as the domain's `<domain>-applied` micro service.
 */
export const appliedSubject = (domain: string, durable: string): string => `${domain}.applied.${durable}`;
/**
 * Name of the micro service a domain's endpoints belong to (`$SRV.PING.bank-applied`):
 * one per domain, so discovery stays within it; the `-` keeps it apart from every domain name.
 */
export const appliedService = (domain: string): string => `${domain}-applied`;
/** Queue group of one durable's instances: one of them answers. */
export const appliedQueue = (domain: string, durable: string): string => `herald-applied-${domain}-${durable}`;

/** Request body. */
export interface AppliedRequest {
  /** The domain the events belong to; a consumer of another domain answers `wrong_domain`. */
  domain: string;
  /** The command's events, as its committed reply lists them. Empty: a liveness check. */
  events: EventRef[];
  /** How long the consumer may wait for them, in ms (1 or more; capped by the consumer's bound). */
  timeoutMs: number;
}

/** Reply body: applied, still pending when the bound passed, or a refused request. */
export type AppliedReply =
  | { status: "applied"; durable: string }
  | {
      status: "pending";
      durable: string;
      /** Ids of the events not applied yet. */
      pending: string[];
      /** True when the instance answered early because it is stopping: ask again. */
      stopping?: boolean;
    }
  | { status: "error"; error: { code: AppliedErrorCode; message: string } };

/**
 * `invalid_request`: not JSON, bad events, or a timeout below 1;
 * `wrong_domain`: the events are another domain's;
 * `not_tracked`: the consumer has no database and cannot tell what it applied.
 */
export type AppliedErrorCode = "invalid_request" | "wrong_domain" | "not_tracked";
