import type { NatsConnection } from "@nats-io/nats-core";
import { context, type Context } from "@opentelemetry/api";
import type { AnyCommand, CommandInput, CommandResult } from "../commands/define-command.js";
import { encodeConsistencyToken, decodeConsistencyToken, type ConsistencyToken } from "../protocol/consistency-token.js";
import type { CommittedReply, RejectedReply, StoredReply } from "../protocol/replies.js";
import { sendRetried, traceSend } from "../telemetry/client-telemetry.js";
import { assertSegment, commandSubject, defaultStreamName } from "../protocol/subjects.js";
import { awaitApplied, checkAwait, checkConsumersExist, type AwaitOutcome } from "./await-consumers.js";
import { sendAttempt } from "./attempt.js";
import { checkedKey, encodeCommandInput, encodeRawBody } from "./encode-request.js";
import { DEFAULT_TIMEOUT_MS, resolveRetry, resolveTimeout, type ClientOptions, type SendOptions } from "./options.js";
import { CommandRequestError } from "./request-error.js";
import { retryDelayMs } from "./retry-delay.js";

/** A committed reply as `send` returns it: with its consistency token, and whom it waited for. */
export type SentCommitted<Result = unknown> = CommittedReply<Result> &
  Partial<AwaitOutcome> & {
    /** Opaque, bound to the domain: `consumer.caughtUp(token)` and `client.awaitConsumers(token)` wait on it. */
    token: ConsistencyToken;
  };

/** What `send` and `sendRaw` resolve with. */
export type SendReply<Result = unknown> = SentCommitted<Result> | RejectedReply;

/** Sends commands to one domain's workers; see docs/client.md. */
export interface HeraldClient {
  readonly domain: string;
  /**
   * Waits until each durable has applied the events of the committed command
   * the token comes from, at most `timeoutMs` (> 0, default 5000); answers
   * within it plus 250 ms. Throws `invalid_token` / `wrong_domain` for a token
   * that is not this domain's, and `unknown_consumer` / `invalid_await` for bad
   * durables or bounds.
   */
  awaitConsumers(token: ConsistencyToken | string, durables: readonly string[], options?: { timeoutMs?: number }): Promise<AwaitOutcome>;
  /**
   * Sends a command defined with `defineCommand`: the input is typed and checked
   * against the command's schema before anything is sent; the result is typed.
   * Resolves with the stored outcome (`committed` or `rejected`); throws a
   * CommandRequestError for an `error` reply or when retries ran out.
   */
  send<C extends AnyCommand>(command: C, input: CommandInput<C>, options?: SendOptions): Promise<SendReply<CommandResult<C>>>;
  /**
   * The same without the definition: `subject` is a full subject
   * (`bank.cmd.transfer`) or a command name of the client's domain; `json` is
   * JSON text (sent as is), bytes, or a value to encode. No local validation.
   */
  sendRaw(subject: string, json: string | Uint8Array | object, options?: SendOptions): Promise<SendReply>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Creates a client over an open NATS connection, which the caller keeps owning. */
export function createClient(nc: NatsConnection, options: ClientOptions): HeraldClient {
  assertSegment("domain", options.domain);
  const domain = options.domain;
  const defaultTimeout = resolveTimeout(options.timeoutMs, DEFAULT_TIMEOUT_MS);
  resolveRetry(options.retry); // fail now on bad settings, not at the first send
  const stream = options.stream ?? defaultStreamName(domain);
  /** Durables found on the stream once: later sends skip the look-up. */
  const knownDurables = new Set<string>();

  async function checkDurables(durables: readonly string[]): Promise<void> {
    const unknown = durables.filter((d) => !knownDurables.has(d));
    if (unknown.length === 0) return;
    await checkConsumersExist(nc, domain, stream, unknown);
    for (const d of unknown) knownDurables.add(d);
  }

  /** Sends, then (for a committed command on the domain's own subjects) waits for the consumers asked for. */
  async function sendAndAwait(subject: string, body: Uint8Array, key: string, sendOptions: SendOptions): Promise<SendReply> {
    const wait = sendOptions.awaitConsumers === undefined && sendOptions.awaitTimeoutMs === undefined ? undefined : checkAwait(sendOptions.awaitConsumers, sendOptions.awaitTimeoutMs);
    if (wait) {
      if (!subject.startsWith(`${domain}.`)) throw new CommandRequestError("invalid_await", `awaitConsumers needs a subject of the client's domain ${domain}`);
      await checkDurables(wait.durables);
    }
    const reply = await request(subject, body, key, sendOptions);
    if (reply.status !== "committed") return reply;
    const sent: SentCommitted = { ...reply, token: encodeConsistencyToken(domain, reply.events) };
    if (!wait) return sent;
    return { ...sent, ...(await awaitApplied(nc, domain, wait.durables, reply.events, wait.timeoutMs)) };
  }

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
    async awaitConsumers(token, durables, awaitOptions = {}) {
      const wait = checkAwait(durables, awaitOptions.timeoutMs);
      let events;
      try {
        events = decodeConsistencyToken(token, domain).events;
      } catch (err) {
        throw new CommandRequestError((err as { code?: string }).code ?? "invalid_token", (err as Error).message, { cause: err });
      }
      await checkDurables(wait.durables);
      return awaitApplied(nc, domain, wait.durables, events, wait.timeoutMs);
    },
    async send(command, input, sendOptions = {}) {
      const key = checkedKey(sendOptions.idempotencyKey);
      const body = encodeCommandInput(command, input, key);
      return (await sendAndAwait(commandSubject(domain, command.name), body, key, sendOptions)) as SendReply<CommandResult<typeof command>>;
    },
    async sendRaw(subject, json, sendOptions = {}) {
      const key = checkedKey(sendOptions.idempotencyKey);
      const full = subject.includes(".") ? subject : commandSubject(domain, subject);
      return sendAndAwait(full, encodeRawBody(json, key), key, sendOptions);
    },
  };
}
