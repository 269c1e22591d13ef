/**
 * PostgreSQL's array text (`{1,2,NULL}`, `{{"a b","c\"d"},{e,f}}`) to nested
 * JSON arrays, each element through `element`; unquoted NULL is null, a quoted
 * "NULL" the string. Arrays with explicit bounds (`[0:1]={...}`) are left
 * alone (undefined): the caller sends their text.
 */
export function parsePgArray(text: string, element: (t: string) => unknown, delim = ","): unknown[] | undefined {
  if (!text.startsWith("{")) return undefined;
  let at = 0;

  function list(): unknown[] {
    const out: unknown[] = [];
    at++; // {
    if (text[at] === "}") {
      at++;
      return out;
    }
    for (;;) {
      if (text[at] === "{") out.push(list());
      else out.push(item());
      const c = text[at++];
      if (c === "}") return out;
      if (c !== delim) throw new TypeError(`malformed array text at ${at - 1}: ${text.slice(0, 80)}`);
    }
  }

  function item(): unknown {
    if (text[at] === '"') {
      let s = "";
      for (at++; text[at] !== '"'; at++) {
        if (at >= text.length) throw new TypeError(`unterminated quoted array element: ${text.slice(0, 80)}`);
        if (text[at] === "\\") at++;
        s += text[at];
      }
      at++;
      return element(s);
    }
    const start = at;
    while (at < text.length && text[at] !== delim && text[at] !== "}") at++;
    const raw = text.slice(start, at);
    return raw === "NULL" ? null : element(raw);
  }

  const value = list();
  if (at !== text.length) throw new TypeError(`trailing text after array: ${text.slice(0, 80)}`);
  return value;
}
