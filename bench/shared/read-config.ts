import { createInterface } from "node:readline";

/** A bench target's configuration: one JSON line on stdin, written by the bench when it starts the target. */
export async function readConfig<T>(): Promise<T> {
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    lines.close();
    return JSON.parse(line) as T;
  }
  throw new Error("no configuration on stdin");
}
