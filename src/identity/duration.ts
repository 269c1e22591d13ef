/** A duration such as `90s`, `15m`, `1h` or `7d`, in seconds; undefined when it is not one. */
export function parseDuration(value: string): number | undefined {
  const match = /^([1-9][0-9]{0,6})(s|m|h|d)$/.exec(value.trim());
  if (!match) return undefined;
  return Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as "s" | "m" | "h" | "d"];
}
