/**
 * A tolerant reader for the nats-server configuration format: JSON-like maps
 * and arrays, `=`, `:` or nothing between key and value, unquoted keys and
 * strings, `#` and `//` comments, optional commas and semicolons, and `$name`
 * variables resolved from enclosing blocks. What it cannot resolve (an
 * environment variable) stays a `NatsConfigVariable`. `include` is refused:
 * pass the merged file.
 */

export interface NatsConfigVariable {
  readonly variable: string;
}
export type NatsConfigValue = string | number | boolean | NatsConfigVariable | NatsConfigValue[] | NatsConfigMap;
export interface NatsConfigMap {
  [key: string]: NatsConfigValue;
}

export class NatsConfigSyntaxError extends Error {
  override readonly name = "NatsConfigSyntaxError";
  constructor(message: string, readonly line: number, readonly column: number) {
    super(`${message} at line ${line}, column ${column}`);
  }
}

export const isVariable = (v: unknown): v is NatsConfigVariable =>
  typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && typeof (v as NatsConfigVariable).variable === "string";
export const isMap = (v: unknown): v is NatsConfigMap => typeof v === "object" && v !== null && !Array.isArray(v) && !isVariable(v);

/** Looks a key up as nats-server does: without regard to case. */
export function getKey(map: NatsConfigMap, ...names: string[]): NatsConfigValue | undefined {
  const wanted = names.map((n) => n.toLowerCase());
  const key = Object.keys(map).find((k) => wanted.includes(k.toLowerCase()));
  return key === undefined ? undefined : map[key];
}

const BARE_KEY_END = /[\s=:{}[\],;#"']/;

class Parser {
  private pos = 0;
  constructor(private readonly text: string) {}

  parseDocument(): NatsConfigMap {
    const map = this.parseEntries(undefined, []);
    if (this.pos < this.text.length) this.fail(`unexpected "${this.text[this.pos]}"`);
    return map;
  }

  private fail(message: string): never {
    const before = this.text.slice(0, this.pos).split("\n");
    throw new NatsConfigSyntaxError(message, before.length, before[before.length - 1]!.length + 1);
  }

  private peek(offset = 0): string | undefined {
    return this.text[this.pos + offset];
  }

  /** Skips whitespace, comments and (when `separators`) commas and semicolons. */
  private skip(separators: boolean): void {
    for (;;) {
      const c = this.peek();
      if (c === undefined) return;
      if (/\s/.test(c) || (separators && (c === "," || c === ";"))) this.pos++;
      else if (c === "#" || (c === "/" && this.peek(1) === "/")) {
        const end = this.text.indexOf("\n", this.pos);
        this.pos = end === -1 ? this.text.length : end;
      } else return;
    }
  }

  /** Key/value pairs until `close` (or the end of text at top level). */
  private parseEntries(close: "}" | undefined, scopes: NatsConfigMap[]): NatsConfigMap {
    const map: NatsConfigMap = {};
    const inner = [map, ...scopes];
    for (;;) {
      this.skip(true);
      const c = this.peek();
      if (c === undefined) {
        if (close) this.fail(`missing "${close}"`);
        return map;
      }
      if (c === close) {
        this.pos++;
        return map;
      }
      const key = this.parseKey();
      if (key.toLowerCase() === "include") this.fail("include is not supported; pass the merged configuration");
      this.skipInline();
      if (this.peek() === "=" || this.peek() === ":") this.pos++;
      this.skipInline();
      map[key] = this.parseValue(inner);
    }
  }

  private skipInline(): void {
    while (this.peek() === " " || this.peek() === "\t") this.pos++;
  }

  private parseKey(): string {
    const c = this.peek();
    if (c === '"' || c === "'") return this.parseQuoted();
    const start = this.pos;
    while (this.pos < this.text.length && !BARE_KEY_END.test(this.text[this.pos]!)) this.pos++;
    if (this.pos === start) this.fail(`unexpected "${c}" where a key was expected`);
    return this.text.slice(start, this.pos);
  }

  private parseValue(scopes: NatsConfigMap[]): NatsConfigValue {
    const c = this.peek();
    if (c === undefined || c === "\n") this.fail("missing value");
    if (c === "{") {
      this.pos++;
      return this.parseEntries("}", scopes);
    }
    if (c === "[") {
      this.pos++;
      return this.parseArray(scopes);
    }
    if (c === '"' || c === "'") return this.parseQuoted();
    if (c === "$") return this.parseVariable(scopes);
    return this.parseBare();
  }

  private parseArray(scopes: NatsConfigMap[]): NatsConfigValue[] {
    const items: NatsConfigValue[] = [];
    for (;;) {
      this.skip(true);
      if (this.peek() === undefined) this.fail('missing "]"');
      if (this.peek() === "]") {
        this.pos++;
        return items;
      }
      items.push(this.parseValue(scopes));
    }
  }

  private parseQuoted(): string {
    const quote = this.peek()!;
    const start = this.pos++;
    let out = "";
    for (;;) {
      const c = this.text[this.pos++];
      if (c === undefined || c === "\n") {
        this.pos = start;
        this.fail("unterminated string");
      }
      if (c === quote) return out;
      if (c === "\\" && quote === '"') {
        const e = this.text[this.pos++];
        const simple: Record<string, string> = { n: "\n", t: "\t", r: "\r", '"': '"', "\\": "\\", "/": "/" };
        if (e !== undefined && simple[e] !== undefined) out += simple[e];
        else if (e === "u" && /^[0-9a-fA-F]{4}$/.test(this.text.slice(this.pos, this.pos + 4))) {
          out += String.fromCharCode(parseInt(this.text.slice(this.pos, this.pos + 4), 16));
          this.pos += 4;
        } else out += `\\${e ?? ""}`;
      } else out += c;
    }
  }

  private parseVariable(scopes: NatsConfigMap[]): NatsConfigValue {
    this.pos++;
    const start = this.pos;
    while (/[A-Za-z0-9_]/.test(this.peek() ?? "")) this.pos++;
    const name = this.text.slice(start, this.pos);
    if (!name) this.fail('expected a variable name after "$"');
    for (const scope of scopes) {
      if (Object.hasOwn(scope, name)) return scope[name]!;
    }
    // Not defined in the file: nats-server takes it from its environment.
    return { variable: name };
  }

  /** An unquoted value runs to whitespace, a separator, a closing bracket or a comment, as in nats-server. */
  private parseBare(): NatsConfigValue {
    const start = this.pos;
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]!;
      if (/\s/.test(c) || c === "," || c === ";" || c === "]" || c === "}" || c === "#") break;
      // `//` inside a value is not a comment, so `nats://host` survives.
      if (c === "/" && this.peek(1) === "/" && this.pos === start) break;
      this.pos++;
    }
    const raw = this.text.slice(start, this.pos);
    if (!raw) this.fail("missing value");
    const lower = raw.toLowerCase();
    if (["true", "yes", "on"].includes(lower)) return true;
    if (["false", "no", "off"].includes(lower)) return false;
    if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
    return raw;
  }
}

/** Parses the text of a nats-server configuration file. */
export function parseNatsConfig(text: string): NatsConfigMap {
  return new Parser(text.replace(/^\uFEFF/, "")).parseDocument();
}
