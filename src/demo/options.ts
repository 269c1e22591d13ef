import { CliError } from "../cli/cli-error.js";
import { isSegment } from "../protocol/subjects.js";

/** What `herald demo` runs. */
export interface DemoOptions {
  /** Domain the demo's workers serve (its stream is `<DOMAIN>_EVENTS`). Default `demo`. */
  domain: string;
  /** Transfers to drive among the hot accounts. Default 300. */
  transfers: number;
  /** Requests in flight at once; high, so transactions collide and retry. Default 64. */
  concurrency: number;
  /** Accounts the transfers move money between; few, so they are hot. Default 4. */
  accounts: number;
  /** Opening balance of each account, in minor units. Default 10000. */
  initialBalance: number;
  /** Worker processes started, in one queue group. Default 2. */
  workers: number;
}

export const DEFAULT_DEMO_OPTIONS: Readonly<DemoOptions> = Object.freeze({
  domain: "demo",
  transfers: 300,
  concurrency: 64,
  accounts: 6,
  initialBalance: 10_000,
  workers: 2,
});

function wholeNumber(flag: string, value: string | undefined, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`${flag} must be a whole number from ${min} to ${max}, got "${value}"`);
  return n;
}

/** Demo options from the CLI flags' raw strings, checked. */
export function demoOptionsFromFlags(flags: { domain?: string; transfers?: string; concurrency?: string }): DemoOptions {
  const domain = flags.domain ?? DEFAULT_DEMO_OPTIONS.domain;
  if (!isSegment(domain)) throw new CliError(`--domain must be 1-64 characters of lowercase a-z, 0-9 and _, got "${domain}"`);
  return {
    ...DEFAULT_DEMO_OPTIONS,
    domain,
    transfers: wholeNumber("--transfers", flags.transfers, 10, 100_000, DEFAULT_DEMO_OPTIONS.transfers),
    concurrency: wholeNumber("--concurrency", flags.concurrency, 1, 1000, DEFAULT_DEMO_OPTIONS.concurrency),
  };
}
