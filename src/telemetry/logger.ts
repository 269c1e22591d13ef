import pino from "pino";

/** The logging surface Herald uses; pino's loggers satisfy it. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** JSON lines on stderr, so stdout stays free for a command's own output. */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino({ level: options.level ?? "info", name: options.name ?? "herald", base: undefined }, pino.destination(2));
}

const noop = () => undefined;

/** A logger that drops everything; the default for embedded use and tests. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => silentLogger };
