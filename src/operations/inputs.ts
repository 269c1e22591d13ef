import { eventSubject, isSegment } from "../protocol/subjects.js";

/** Input an operation cannot work with: a malformed time, subject or name. */
export class OperationInputError extends Error {
  override readonly name = "OperationInputError";
}

/** The thing asked for does not exist, or a range holds nothing. */
export class NotFoundError extends Error {
  override readonly name = "NotFoundError";
}

const RELATIVE = /^(\d+)(ms|s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
// Dates with at least year-month-day; Date.parse alone accepts too much ("1", "March").
const ISO_LIKE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/i;

/**
 * A point in time from an ISO-8601 date or timestamp (`2025-03-14`,
 * `2025-03-14T09:26:53Z`) or a duration ago (`90s`, `15m`, `2h`, `7d`, `1w`).
 */
export function parseTime(text: string, what: string, now: Date = new Date()): Date {
  const value = text.trim();
  const relative = RELATIVE.exec(value);
  if (relative) return new Date(now.getTime() - Number(relative[1]) * UNIT_MS[relative[2]!]!);
  const time = ISO_LIKE.test(value) ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(time.getTime())) {
    throw new OperationInputError(`${what} "${text}" is not a time: use ISO-8601 (2025-03-14T09:00:00Z) or a duration ago (15m, 2h, 7d)`);
  }
  return time;
}

/** A domain name, checked against the protocol's segment rule. */
export function parseDomain(domain: string): string {
  if (!isSegment(domain)) throw new OperationInputError(`domain "${domain}" must be 1-64 characters of lowercase a-z, 0-9 and _`);
  return domain;
}

const SUBJECT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*(\.(\*|>))?$/;

/** A subject filter: an event name (`transferred` → `<domain>.evt.transferred`) or a full subject, wildcards allowed. */
export function parseEventSubject(domain: string, subject: string): string {
  if (!subject.includes(".")) {
    if (!isSegment(subject)) throw new OperationInputError(`event name "${subject}" must be 1-64 characters of lowercase a-z, 0-9 and _`);
    return eventSubject(domain, subject);
  }
  if (!SUBJECT.test(subject) || subject.split(".").some((t, i, all) => (t === "*" || t === ">") && i !== all.length - 1)) {
    throw new OperationInputError(`subject "${subject}" is not a valid subject filter`);
  }
  return subject;
}

/** A subject prefix to re-target to: dot-separated tokens, no wildcards. */
export function parseSubjectPrefix(prefix: string): string {
  const value = prefix.endsWith(".") ? prefix.slice(0, -1) : prefix;
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(value)) {
    throw new OperationInputError(`subject prefix "${prefix}" must be dot-separated tokens of A-Z, a-z, 0-9, _ and - (no wildcards)`);
  }
  return value;
}

/** A positive integer option. */
export function parsePositiveInt(text: string, what: string, max = 1_000_000): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new OperationInputError(`${what} "${text}" must be an integer from 1 to ${max}`);
  return n;
}

