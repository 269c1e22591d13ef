import type { NatsConnection } from "@nats-io/nats-core";
import { Svcm, type Service, type ServiceMsg } from "@nats-io/services";
import { appliedQueue, appliedService, appliedSubject, type AppliedErrorCode, type AppliedReply } from "../protocol/applied.js";
import { checkEventRefs, ConsistencyTokenError } from "../protocol/consistency-token.js";
import type { Logger } from "../telemetry/logger.js";
import type { AppliedTracker } from "./applied-tracker.js";

export interface AppliedEndpointOptions {
  nc: NatsConnection;
  domain: string;
  durable: string;
  stream: string;
  /** Undefined for a consumer without a database: it answers `not_tracked`. */
  tracker: AppliedTracker | undefined;
  /** Longest wait a request may ask for, in ms. */
  maxWaitMs: number;
  logger: Logger;
}

/** The running endpoint of one consumer instance. */
export interface AppliedEndpoint {
  /** Answers the waits in progress (`stopping`), then leaves the queue group. */
  stop(): Promise<void>;
}

const encoder = new TextEncoder();

/** Serves `<domain>.applied.<durable>` as an endpoint of the domain's `<domain>-applied` micro service. */
export async function startAppliedEndpoint(options: AppliedEndpointOptions): Promise<AppliedEndpoint> {
  const { domain, durable } = options;
  let stopping = false;
  const inFlight = new Set<Promise<void>>();
  const service: Service = await new Svcm(options.nc).add({
    name: appliedService(domain),
    version: "1.0.0",
    description: "Herald consumers: have these events been applied?",
    queue: appliedQueue(domain, durable),
    metadata: { domain, durable, stream: options.stream },
  });
  service.addEndpoint(durable, {
    subject: appliedSubject(domain, durable),
    metadata: { domain, durable },
    handler: (err, msg) => {
      if (err) return;
      const answering = answer(msg).catch((e) => options.logger.warn({ err: (e as Error).message }, "applied endpoint failed"));
      inFlight.add(answering);
      void answering.finally(() => inFlight.delete(answering));
    },
  });

  const reply = (msg: ServiceMsg, body: AppliedReply): void => void msg.respond(encoder.encode(JSON.stringify(body)));
  const refuse = (msg: ServiceMsg, code: AppliedErrorCode, message: string): void => reply(msg, { status: "error", error: { code, message } });

  async function answer(msg: ServiceMsg): Promise<void> {
    let body: { domain?: unknown; events?: unknown; timeoutMs?: unknown };
    try {
      body = msg.json();
    } catch {
      return refuse(msg, "invalid_request", "the request is not JSON");
    }
    if (!options.tracker) return refuse(msg, "not_tracked", `consumer ${durable} has no database: it cannot tell which events it applied`);
    if (body?.domain !== domain) return refuse(msg, "wrong_domain", `consumer ${durable} consumes domain ${domain}, not ${String(body?.domain).slice(0, 64)}`);
    const timeoutMs = body.timeoutMs;
    if (typeof timeoutMs !== "number" || !Number.isFinite(timeoutMs) || timeoutMs < 1) return refuse(msg, "invalid_request", "timeoutMs must be a number >= 1");
    let events;
    try {
      events = checkEventRefs(domain, body.events);
    } catch (e) {
      return refuse(msg, "invalid_request", (e as ConsistencyTokenError).message);
    }
    const pending = await options.tracker.wait(events, Math.min(timeoutMs, options.maxWaitMs));
    if (pending.length === 0) return reply(msg, { status: "applied", durable });
    reply(msg, { status: "pending", durable, pending, ...(stopping ? { stopping: true } : {}) });
  }

  return {
    async stop() {
      stopping = true;
      options.tracker?.close();
      await Promise.allSettled([...inFlight]);
      await service.stop().catch(() => undefined);
    },
  };
}
