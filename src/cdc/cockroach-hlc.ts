/**
 * CockroachDB HLC timestamps as changefeeds print them: `updated` and
 * `resolved` are decimals, `<wall time in ns>.<logical counter, 10 digits>`,
 * e.g. `1629813621680097993.0000000000`.
 * https://www.cockroachlabs.com/docs/v24.3/changefeed-messages#ordering-and-delivery-guarantees
 * ("To compare two different rows for happens-before, compare the updated timestamp").
 *
 * Wall times in ns do not fit a double, so they are compared as integers
 * (BigInt), never as numbers or by plain string order.
 */

/** A parsed HLC timestamp. */
export interface Hlc {
  /** Nanoseconds since the Unix epoch. */
  readonly wall: bigint;
  /** Logical counter (the 10 fractional digits as an integer). */
  readonly logical: bigint;
}

const LOGICAL_DIGITS = 10;
const SCALE = 10n ** BigInt(LOGICAL_DIGITS);
const HLC_TEXT = /^(\d{1,20})(?:\.(\d{1,10}))?$/;

/** Parses an HLC decimal; undefined when the text is not one. */
export function parseHlc(text: unknown): Hlc | undefined {
  if (typeof text !== "string") return undefined;
  const m = HLC_TEXT.exec(text);
  if (!m) return undefined;
  // A decimal: `.5` is 5000000000 logical ticks, as CockroachDB prints the logical part zero-padded to 10 digits.
  const fraction = (m[2] ?? "").padEnd(LOGICAL_DIGITS, "0");
  return { wall: BigInt(m[1]!), logical: BigInt(fraction) };
}

/** The canonical text (`%d.%010d`): one change always gets one position, however it was spelled. */
export function formatHlc(hlc: Hlc): string {
  return `${hlc.wall}.${hlc.logical.toString().padStart(LOGICAL_DIGITS, "0")}`;
}

const scaled = (hlc: Hlc): bigint => hlc.wall * SCALE + hlc.logical;

/** Negative, zero or positive as `a` is before, at or after `b`. */
export function compareHlc(a: Hlc, b: Hlc): number {
  const d = scaled(a) - scaled(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

/** Compares two positions in canonical or any decimal spelling. Throws on text that is not an HLC. */
export function comparePositions(a: string, b: string): number {
  const pa = parseHlc(a);
  const pb = parseHlc(b);
  if (!pa || !pb) throw new TypeError(`not CockroachDB HLC timestamps: ${a}, ${b}`);
  return compareHlc(pa, pb);
}

/** The commit time: the wall time, to the millisecond. */
export function hlcTime(hlc: Hlc): Date {
  return new Date(Number(hlc.wall / 1_000_000n));
}
