/**
 * JSON.parse for changefeed bodies that keeps every digit. CockroachDB writes
 * INT8 and DECIMAL columns as JSON numbers (https://www.cockroachlabs.com/docs/v24.3/changefeed-messages#json),
 * and INT8 keys from `unique_rowid()` are around 2^60: as doubles they would
 * lose their last digits, and two rows could share a key (and a msg-id). A
 * number a double cannot hold exactly is therefore read as a string of its
 * digits; every other number stays a number.
 */

const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Decimal text without sign noise, leading integer zeros or trailing fraction zeros. */
function normal(text: string): string {
  const negative = text.startsWith("-");
  const [int = "", frac = ""] = (negative ? text.slice(1) : text).split(".");
  const i = int.replace(/^0+(?=\d)/, "");
  const f = frac.replace(/0+$/, "");
  const body = f ? `${i}.${f}` : i;
  return negative && body !== "0" ? `-${body}` : body;
}

/** Whether the double nearest `token` prints back as the same decimal value. */
function exact(token: string): boolean {
  if (/[eE]/.test(token)) return true; // exponent notation: taken as the writer meant it, a float
  const printed = String(Number(token));
  return !/e/.test(printed) && normal(printed) === normal(token);
}

/** Index of the quote closing the string that opens at `start` (or the text's end). */
function stringEnd(text: string, start: number): number {
  let j = text.indexOf('"', start + 1);
  while (j > 0) {
    let slashes = 0;
    while (text.charCodeAt(j - 1 - slashes) === 0x5c /* \ */) slashes++;
    if (slashes % 2 === 0) return j;
    j = text.indexOf('"', j + 1);
  }
  return text.length;
}

/** Quotes the numbers of `text` that a double would change, outside strings. */
export function protectNumbers(text: string): string {
  let out = "";
  let from = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i = stringEnd(text, i) + 1;
      continue;
    }
    if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (!m) {
        i++;
        continue;
      }
      if (!exact(m[0])) {
        out += `${text.slice(from, i)}"${m[0]}"`;
        from = i + m[0].length;
      }
      i += m[0].length;
      continue;
    }
    i++;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** JSON.parse that keeps numbers a double cannot hold as strings of their digits. */
export function parseExactJson(text: string): unknown {
  return JSON.parse(protectNumbers(text));
}
