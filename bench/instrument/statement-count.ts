/**
 * Statements in one query text: a simple-protocol message may carry several
 * ("BEGIN; INSERT …; COMMIT"). Counts the semicolons outside quoted strings and
 * identifiers, plus the statement after the last one when it is not empty.
 */
export function statementCount(text: string | undefined): number {
  if (!text) return 0;
  // The common case, one statement with no separator, costs one scan.
  if (!text.includes(";")) return 1;
  let count = 0;
  let quote: string | undefined;
  let pending = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      // A doubled quote inside a string is the quote itself; the next character reopens it.
      if (c === quote) quote = undefined;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      pending = true;
    } else if (c === ";") {
      if (pending) count++;
      pending = false;
    } else if (c !== " " && c !== "\n" && c !== "\t" && c !== "\r") pending = true;
  }
  return count + (pending ? 1 : 0);
}
