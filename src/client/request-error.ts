import { ERROR_STATUS, type ErrorCode } from "../errors.js";

/**
 * Codes the client itself reports when no Herald reply settled the request,
 * with the status it gives them (HTTP conventions, like the protocol's).
 */
export const CLIENT_ERROR_STATUS = {
  /** No reply within the timeout; the command may or may not have run. */
  timeout: 504,
  /** NATS answered that nobody serves the subject: no worker of the domain runs. */
  no_responders: 503,
  /** NATS refused the request (closed connection, bad subject, permissions). */
  request_failed: 502,
  /** A reply came that is not a Herald reply. */
  invalid_reply: 502,
  /** `awaitConsumers` / `awaitTimeoutMs` that cannot work (no names, a bad name, a bound not above 0); nothing was sent. */
  invalid_await: 400,
  /** A durable to wait for does not exist on the stream, or has no database to tell; nothing was sent. */
  unknown_consumer: 404,
  /** A consistency token that is not one. */
  invalid_token: 400,
  /** A consistency token of another domain. */
  wrong_domain: 400,
} as const;

export type ClientErrorCode = keyof typeof CLIENT_ERROR_STATUS;

/**
 * Failures worth sending again with the same key: nothing was stored, or the
 * outcome is unknown (`timeout`, `unknown_outcome`: the retry gets the stored
 * outcome if the first attempt committed, or runs it once if it did not).
 */
const RETRYABLE = new Set<string>(["timeout", "no_responders", "unavailable", "unknown_outcome", "overloaded", "internal"]);

export interface CommandRequestErrorOptions {
  /** Default: the code's status from the protocol or CLIENT_ERROR_STATUS, else 500. */
  status?: number;
  /** For `invalid_command`: `[{ path, message, code }]`. Default: none. */
  details?: unknown;
  /** The key the request carried or would have carried. Default: none. */
  idempotencyKey?: string;
  /** Requests sent before giving up; 0 when the client refused the input itself. Default 0. */
  attempts?: number;
  /** The underlying error. Default: none. */
  cause?: unknown;
}

/**
 * A command that did not get a stored outcome: an `error` reply from a worker,
 * input refused locally, or retries that ran out. Branch on `code`, not `message`.
 */
export class CommandRequestError extends Error {
  override readonly name = "CommandRequestError";
  readonly status: number;
  readonly details: unknown;
  readonly idempotencyKey: string | undefined;
  readonly attempts: number;

  constructor(
    readonly code: ErrorCode | ClientErrorCode | (string & {}),
    message: string,
    options: CommandRequestErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = options.status ?? ERROR_STATUS[code as ErrorCode] ?? CLIENT_ERROR_STATUS[code as ClientErrorCode] ?? 500;
    this.details = options.details;
    this.idempotencyKey = options.idempotencyKey;
    this.attempts = options.attempts ?? 0;
  }

  /** True when sending the same request again with the same key is safe and may succeed. */
  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }

  /** The protocol's `error` reply shape, e.g. for printing as JSON. */
  toReply(): { status: "error"; error: { code: string; message: string; details?: unknown } } {
    const error: { code: string; message: string; details?: unknown } = { code: this.code, message: this.message };
    if (this.details !== undefined) error.details = this.details;
    return { status: "error", error };
  }
}
