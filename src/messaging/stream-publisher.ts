import { createInbox, headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/nats-core";
import { MSG_ID_HEADER } from "../protocol/headers.js";

/** What JetStream answered for one stored message. */
export interface StreamAck {
  stream: string;
  seq: number;
  /** The stream already held a message with this `Nats-Msg-Id` (inside its duplicate window) and dropped this one. */
  duplicate: boolean;
}

export interface StreamPublishOptions {
  /** `Nats-Msg-Id`: JetStream drops a second message with the same id inside its duplicate window. */
  msgID?: string;
  headers?: MsgHdrs;
  /** How long to wait for the PubAck, in ms. Default: the publisher's `timeoutMs`. */
  timeout?: number;
}

/**
 * Publishes into JetStream and resolves with the PubAck. `jetstream(nc)`
 * satisfies it too; `createStreamPublisher` is the lean one for many acks in flight.
 */
export interface StreamPublisher {
  publish(subject: string, data: Uint8Array, options?: StreamPublishOptions): Promise<StreamAck>;
}

/** Why a publish got no PubAck. */
export type StreamPublishErrorCode = "timeout" | "no_responders" | "stream_error" | "closed" | "invalid";

export class StreamPublishError extends Error {
  override readonly name = "StreamPublishError";
  constructor(
    readonly code: StreamPublishErrorCode,
    message: string,
    /** JetStream's own error, for `stream_error`: `{ code, err_code, description }`. */
    readonly apiError?: { code?: number; err_code?: number; description?: string },
  ) {
    super(message);
  }
}

export interface StreamPublisherOptions {
  /** PubAck wait when a publish names none, in ms. Default 5000. */
  timeoutMs?: number;
  /** How often waits are checked for their deadline, in ms. Default 100. */
  sweepMs?: number;
}

interface Waiting {
  resolve(ack: StreamAck): void;
  reject(err: StreamPublishError): void;
  deadline: number;
}

const decoder = new TextDecoder();

/**
 * Each message goes out as a core publish whose reply subject is a token
 * under one inbox subscription, and its PubAck comes back there: one
 * subscription, one timer and no captured stack trace for any number of acks
 * in flight. (A JetStream client request allocates a timer and two Error
 * objects per message, the bulk of a CDC bridge's client CPU.) A message whose
 * ack is lost to a reconnect times out; callers publish again with the same
 * msg-id, so JetStream keeps it once.
 */
export function createStreamPublisher(nc: NatsConnection, options: StreamPublisherOptions = {}): StreamPublisher & { close(): void } {
  const defaultTimeout = options.timeoutMs ?? 5000;
  const prefix = createInbox();
  const waiting = new Map<string, Waiting>();
  let next = 0;
  let closed = false;

  const settle = (token: string, outcome: StreamAck | StreamPublishError): void => {
    const w = waiting.get(token);
    if (!w) return;
    waiting.delete(token);
    if (outcome instanceof StreamPublishError) w.reject(outcome);
    else w.resolve(outcome);
  };

  const onReply = (msg: Msg): void => {
    const token = msg.subject.slice(prefix.length + 1);
    if (msg.headers?.code === 503) return settle(token, new StreamPublishError("no_responders", "no stream takes this subject (or JetStream is not enabled)"));
    let body: { stream?: string; seq?: number; duplicate?: boolean; error?: { code?: number; err_code?: number; description?: string } };
    try {
      body = JSON.parse(decoder.decode(msg.data));
    } catch {
      return settle(token, new StreamPublishError("stream_error", "the PubAck is not JSON"));
    }
    if (body.error) return settle(token, new StreamPublishError("stream_error", body.error.description ?? "JetStream refused the message", body.error));
    if (typeof body.stream !== "string" || typeof body.seq !== "number") return settle(token, new StreamPublishError("stream_error", "the PubAck names no stream and sequence"));
    settle(token, { stream: body.stream, seq: body.seq, duplicate: body.duplicate === true });
  };

  const sub: Subscription = nc.subscribe(`${prefix}.*`, {
    callback: (err, msg) => {
      if (!err) onReply(msg);
    },
  });

  const failAll = (err: StreamPublishError): void => {
    for (const token of [...waiting.keys()]) settle(token, err);
  };
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const [token, w] of waiting) if (w.deadline <= now) settle(token, new StreamPublishError("timeout", "no PubAck within the timeout"));
  }, options.sweepMs ?? 100);
  sweeper.unref();
  void nc.closed().then(() => close());

  function close(): void {
    if (closed) return;
    closed = true;
    clearInterval(sweeper);
    sub.unsubscribe();
    failAll(new StreamPublishError("closed", "the publisher or its connection is closed"));
  }

  return {
    publish(subject, data, publishOptions = {}) {
      if (closed || nc.isClosed()) return Promise.reject(new StreamPublishError("closed", "the publisher or its connection is closed"));
      const token = (next++).toString(36);
      const h = publishOptions.headers ?? natsHeaders();
      if (publishOptions.msgID) h.set(MSG_ID_HEADER, publishOptions.msgID);
      return new Promise<StreamAck>((resolve, reject) => {
        waiting.set(token, { resolve, reject, deadline: Date.now() + (publishOptions.timeout ?? defaultTimeout) });
        try {
          nc.publish(subject, data, { reply: `${prefix}.${token}`, headers: h });
        } catch (err) {
          // A bad subject, a payload over the server's limit, or a connection closing now.
          waiting.delete(token);
          reject(new StreamPublishError(nc.isClosed() ? "closed" : "invalid", (err as Error).message));
        }
      });
    },
    close,
  };
}
