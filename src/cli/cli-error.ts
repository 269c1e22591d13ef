/** A failure the CLI reports as one line and an exit code, never a stack trace. */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(message: string, readonly exitCode = 1, options: { cause?: unknown } = {}) {
    super(message, options);
  }
}

/** One readable line for any error, following `cause` for the root reason. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  const seen = new Set<unknown>();
  while (current && !seen.has(current) && parts.length < 4) {
    seen.add(current);
    const message = current instanceof Error ? current.message : String(current);
    if (message && !parts.some((p) => p.includes(message))) parts.push(message);
    current = (current as { cause?: unknown }).cause;
  }
  return parts.join(": ") || "unknown error";
}
