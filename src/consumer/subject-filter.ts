/** True when `subject` matches the NATS subject filter (`*` one token, `>` one or more at the end). */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split(".");
  const s = subject.split(".");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === ">") return s.length > i;
    if (i >= s.length) return false;
    if (f[i] !== "*" && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

/** True when any of the filters matches. */
export const anyFilterMatches = (filters: readonly string[], subject: string): boolean => filters.some((f) => subjectMatches(f, subject));
