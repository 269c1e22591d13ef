/**
 * Reasoning about NATS subject patterns (`*` one token, `>` one or more at the
 * end) as sets of subjects: enough to tell whether a permission reaches into a
 * subject tree, and whether a deny rule takes all of it back.
 */

const tokens = (pattern: string): string[] => pattern.split(".");

/** A subscribe permission entry may name a queue group after a space: `bank.cmd.> herald-bank`. */
export function splitQueue(entry: string): { subject: string; queue?: string } {
  const [subject = "", queue] = entry.trim().split(/\s+/, 2);
  return queue ? { subject, queue } : { subject };
}

/** The subjects both patterns match, as a pattern; undefined when they share none. */
export function intersect(a: string, b: string): string | undefined {
  const x = tokens(a);
  const y = tokens(b);
  const out: string[] = [];
  for (let i = 0; ; i++) {
    const p = x[i];
    const q = y[i];
    if (p === undefined && q === undefined) return out.join(".");
    if (p === ">" && q !== undefined) return [...out, ...y.slice(i)].join(".");
    if (q === ">" && p !== undefined) return [...out, ...x.slice(i)].join(".");
    if (p === undefined || q === undefined) return undefined;
    if (p === "*") out.push(q);
    else if (q === "*" || p === q) out.push(p);
    else return undefined;
  }
}

/** True when every subject `inner` matches is matched by `outer` too. */
export function covers(outer: string, inner: string): boolean {
  const x = tokens(outer);
  const y = tokens(inner);
  for (let i = 0; ; i++) {
    const p = x[i];
    const q = y[i];
    if (p === undefined || q === undefined) return p === undefined && q === undefined;
    if (p === ">") return true;
    if (q === ">") return false;
    if (p === "*") continue;
    if (q === "*" || p !== q) return false;
  }
}

/** Allow and deny lists of one direction; an absent allow list allows everything. */
export interface SubjectRule {
  allow?: readonly string[];
  deny?: readonly string[];
}

/**
 * Whether the rule lets some subject of `tree` through: an allowed pattern
 * overlaps the tree and no deny pattern covers the overlap. Deny rules that
 * only cover parts of it are ignored, so the answer errs towards "yes".
 */
export function reaches(rule: SubjectRule, tree: string): boolean {
  const allow = rule.allow ?? [">"];
  return allow.some((entry) => {
    const overlap = intersect(splitQueue(entry).subject, tree);
    return overlap !== undefined && !(rule.deny ?? []).some((d) => covers(splitQueue(d).subject, overlap));
  });
}

/** A pattern whose first token is a wildcard reaches every domain: `>`, `*.>`, `*.evt.>`. */
export function isUnscoped(pattern: string): boolean {
  const first = tokens(splitQueue(pattern).subject)[0];
  return first === ">" || first === "*";
}
