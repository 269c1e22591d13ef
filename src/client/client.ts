import type { NatsConnection } from "@nats-io/nats-core";
import { context, type Context } from "@opentelemetry/api";
import type { AnyCommand, CommandInput, CommandResult } from "../commands/define-command.js";
import type { StoredReply } from "../protocol/replies.js";
import { sendRetried, traceSend } from "../telemetry/client-telemetry.js";
import { assertSegment, commandSubject } from "../protocol/subjects.js";
import { sendAttempt } from "./attempt.js";
import { checkedKey, encodeCommandInput, encodeRawBody } from "./encode-request.js";
import { DEFAULT_TIMEOUT_MS, resolveRetry, resolveTimeout, type ClientOptions, type SendOptions } from "./options.js";
import { CommandRequestError } from "./request-error.js";
import { retryDelayMs } from "./retry-delay.js";

/** Sends commands to one domain's workers; see docs/client.md. */
export interface HeraldClient {
  readonly domain: string;
  /**
   * Sends a command defined with `defineCommand`: the input is typed and checked
   * against the command's schema before anything is sent; the result is typed.
   * Resolves with the stored outcome (`committed` or `rejected`); throws a
   * CommandRequestError for an `error` reply or when retries ran out.
   */
  send<C extends AnyCommand>(command: C, input: CommandInput<C>, options?: SendOptions): Promise<StoredReply<CommandResult<C>>>;
  /**
   * The same without the definition: `subject` is a full subject
   * (`bank.cmd.transfer`) or a command name of the client's domain; `json` is
   * JSON text (sent as is), bytes, or a value to encode. No local validation.
   */
  sendRaw(subject: string, json: string | Uint8Array | object, options?: SendOptions): Promise<StoredReply>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Creates a client over an open NATS connection, which the caller keeps owning. */
export function createClient(nc: NatsConnection, options: ClientOptions): HeraldClient {
  assertSegment("domain", options.domain);
  const domain = options.domain;
  const defaultTimeout = resolveTimeout(options.timeoutMs, DEFAULT_TIMEOUT_MS);
  resolveRetry(options.retry); // fail now on bad settings, not at the first send

  /** Sends one body under one key until it has a stored outcome, a final error, or no attempts left. */
  function request(subject: string, body: Uint8Array, idempotencyKey: string, sendOptions: SendOptions): Promise<StoredReply> {
    // One `send <subject>` span over every attempt, a child of the caller's context (captured
    // now: after the first await it may be gone); each attempt's headers carry the span's context.
    return traceSend(subject, idempotencyKey, context.active(), (traceContext) => attempts(subject, body, idempotencyKey, sendOptions, traceContext));
  }

  async function attempts(subject: string, body: Uint8Array, idempotencyKey: string, sendOptions: SendOptions, traceContext: Context): Promise<StoredReply> {
    const retry = resolveRetry(options.retry, sendOptions.retry);
    const timeoutMs = resolveTimeout(sendOptions.timeoutMs, defaultTimeout);
    for (let attempt = 1; ; attempt++) {
      const outcome = await sendAttempt(nc, { subject, body, idempotencyKey, timeoutMs, traceContext, attempt });
      if ("reply" in outcome) return outcome.reply;
      const error = outcome.error;
      if (!error.retryable) throw error;
      if (attempt >= retry.attempts) {
        throw new CommandRequestError(error.code, `gave up after ${attempt} attempt(s): ${error.message}`, {
          status: error.status,
          details: error.details,
          idempotencyKey,
          attempts: attempt,
          cause: error,
        });
      }
      const delayMs = retryDelayMs(retry, attempt, error);
      options.onRetry?.({ attempt, error, delayMs, subject, idempotencyKey });
      sendRetried(traceContext, attempt, error.code, delayMs);
      await sleep(delayMs);
    }
  }

  return {
    domain,
    async send(command, input, sendOptions = {}) {
      const key = checkedKey(sendOptions.idempotencyKey);
      const body = encodeCommandInput(command, input, key);
      return (await request(commandSubject(domain, command.name), body, key, sendOptions)) as StoredReply<CommandResult<typeof command>>;
    },
    async sendRaw(subject, json, sendOptions = {}) {
      const key = checkedKey(sendOptions.idempotencyKey);
      const full = subject.includes(".") ? subject : commandSubject(domain, subject);
      return request(full, encodeRawBody(json, key), key, sendOptions);
    },
  };
}
