import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { CliError } from "./cli-error.js";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * A JSON body given on the command line: literal JSON, `@path` (a file,
 * relative to `cwd`) or `-` (standard input). Returns the text as read, after
 * checking that it parses, so a typo fails here with one line and nothing is sent.
 */
export async function readJsonBody(spec: string, cwd: string): Promise<string> {
  let text: string;
  let source: string;
  if (spec === "-") {
    text = await readStdin();
    source = "standard input";
  } else if (spec.startsWith("@")) {
    const path = resolve(cwd, spec.slice(1));
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      throw new CliError(`cannot read body file ${spec.slice(1)}`, 1, { cause: err });
    }
    source = spec.slice(1);
  } else {
    text = spec;
    source = "the body argument";
  }
  try {
    JSON.parse(text);
  } catch (err) {
    // The parser's message quotes the input; say only where it broke.
    const where = /position (\d+)/.exec((err as Error).message)?.[1];
    const at = where ? ` (at position ${where})` : text.trim() === "" ? " (it is empty)" : "";
    throw new CliError(`${source} is not valid JSON${at}`);
  }
  return text;
}
