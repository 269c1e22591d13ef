import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { context } from "@opentelemetry/api";
import { Svcm, type Service, type ServiceMsg } from "@nats-io/services";
import { z } from "zod";
import type { Dispatcher, DispatchResult } from "../commands/dispatcher.js";
import { errorReply } from "../commands/dispatcher.js";
import type { AnyCommand } from "../commands/define-command.js";
import { CommandError, ERROR_STATUS, type ErrorCode } from "../errors.js";
import { SERVICE_ERROR_CODE_HEADER, SERVICE_ERROR_HEADER } from "../protocol/headers.js";
import { REJECTED_STATUS, type Reply } from "../protocol/replies.js";
import { commandSubject, eventSubject, queueGroup } from "../protocol/subjects.js";
import { CommandTelemetry } from "../telemetry/command-telemetry.js";
import { silentLogger, type Logger } from "../telemetry/logger.js";
import { readRequestHeaders, toNatsHeaders, type RequestHeaders } from "./nats-headers.js";
import { createPace, overloadedReply } from "./overload.js";
import { loggableError } from "../telemetry/log-error.js";

export interface CommandServiceOptions {
  nc: NatsConnection;
  dispatcher: Dispatcher;
  commands: readonly AnyCommand[];
  /**
   * Requests being dispatched at once (read, validated, committed, not yet
   * answered); beyond it requests get 503 `overloaded`. The work after the
   * reply does not hold a slot, so a client that waits for each answer is
   * never refused. Default 512.
   */
  maxInFlight?: number;
  /** Runs after the reply was sent, e.g. publishing the events; it must bound itself. */
  afterReply?: (result: DispatchResult) => Promise<unknown>;
  /** Service version for `$SRV.INFO`. Default `1.0.0`. */
  version?: string;
  description?: string;
  /** Default: silent. */
  logger?: Logger;
}

/** The domain's NATS micro service: one endpoint per command, in the domain's queue group. */
export interface CommandService {
  readonly service: Service;
  /** Requests being dispatched now (not yet answered). */
  inFlight(): number;
  /** Stops taking requests and waits for those in flight (and their after-reply work). */
  stop(): Promise<void>;
}

const encoder = new TextEncoder();

function inputSchemaJson(command: AnyCommand): string {
  try {
    return JSON.stringify(z.toJSONSchema(command.input, { unrepresentable: "any" }));
  } catch {
    return "{}";
  }
}

/** Header values may not hold line breaks; messages can (they may quote input). */
const headerSafe = (text: string): string => text.replace(/[\r\n]+/g, " ").slice(0, 1024);

/** Sends the reply with the micro error headers for rejected and error replies. */
function respond(msg: ServiceMsg, reply: Reply): void {
  const body = encoder.encode(JSON.stringify(reply));
  if (reply.status === "committed") msg.respond(body);
  else if (reply.status === "rejected") msg.respondError(REJECTED_STATUS, headerSafe(reply.error.message), body);
  else msg.respondError(errorStatus(reply.error.code), headerSafe(reply.error.message), body);
}

const errorStatus = (code: string): number => ERROR_STATUS[code as ErrorCode] ?? 500;

export async function startCommandService(options: CommandServiceOptions): Promise<CommandService> {
  const { nc, dispatcher } = options;
  const domain = dispatcher.domain;
  const logger = options.logger ?? silentLogger;
  const maxInFlight = options.maxInFlight ?? 512;
  let admitted = 0;
  /** Every request's whole handling, its after-reply work included, for stop(). */
  const handling = new Set<Promise<void>>();
  const pace = createPace();
  const telemetry = new CommandTelemetry(domain, queueGroup(domain));

  const service = await new Svcm(nc).add({
    name: domain,
    version: options.version ?? "1.0.0",
    description: options.description ?? `Herald commands for ${domain}`,
    queue: queueGroup(domain),
    statsHandler: async () => dispatcher.stats,
  });

  async function handle(msg: ServiceMsg, command: string, release: () => void): Promise<void> {
    let head: RequestHeaders;
    let headerError: CommandError | undefined;
    try {
      head = readRequestHeaders(msg.headers);
    } catch (err) {
      // Reported by the dispatcher, after the size check, as the protocol orders them.
      headerError = err instanceof CommandError ? err : new CommandError("invalid_idempotency_key", "the request's headers could not be read");
      head = { idempotencyKey: undefined, traceparent: undefined, tracestate: undefined };
    }
    const idempotencyKey = head.idempotencyKey;
    // The process span (child of the client's context) covers dispatch, reply and publishing.
    const scope = telemetry.begin(msg.subject, command, headerError ? undefined : msg.headers, idempotencyKey);
    let failure: unknown;
    try {
      await context.with(scope.context, async () => {
        const result = await dispatcher.dispatch({
          command,
          body: msg.data,
          idempotencyKey,
          traceparent: head.traceparent,
          tracestate: head.tracestate,
          headerError,
        });
        // Freed before the reply goes out: the client's next request may arrive right after it.
        release();
        respond(msg, result.reply);
        scope.replied(result.reply);
        if (options.afterReply) await options.afterReply(result);
      });
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      scope.end(failure);
    }
  }

  const onMessage = (msg: ServiceMsg, command: string) => {
    if (admitted >= maxInFlight) {
      dispatcher.stats.errors.overloaded = (dispatcher.stats.errors.overloaded ?? 0) + 1;
      telemetry.refused(command, "overloaded");
      pace.refused();
      const overloaded = overloadedReply(pace.retryAfterMs(admitted));
      msg.respondError(overloaded.status, overloaded.message, overloaded.body);
      return;
    }
    admitted++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      admitted--;
      pace.finished();
    };
    const p = handle(msg, command, release)
      .catch((err) => logger.error({ error: loggableError(err), command }, "request handling failed"))
      .finally(release);
    handling.add(p);
    void p.finally(() => handling.delete(p));
  };

  for (const command of options.commands) {
    service.addEndpoint(command.name, {
      subject: commandSubject(domain, command.name),
      metadata: {
        schema: inputSchemaJson(command),
        events: Object.keys(command.events).map((e) => eventSubject(domain, e)).join(","),
        ...(command.description ? { description: command.description } : {}),
      },
      handler: (err, msg) => {
        if (!err) onMessage(msg, command.name);
      },
    });
  }

  // A request to a command the domain does not have gets an answer instead of a timeout.
  // Its own queue group: NATS groups queue subscribers by name across subjects, so
  // sharing the endpoints' group would steal their requests.
  const known = new Set(options.commands.map((c) => c.name));
  const unknown: Subscription = nc.subscribe(commandSubject(domain, "*"), {
    queue: `${queueGroup(domain)}-unknown`,
    callback: (err, msg) => {
      const name = msg.subject.slice(msg.subject.lastIndexOf(".") + 1);
      if (err || known.has(name) || !msg.reply) return;
      const error = new CommandError("unknown_command", `${domain} has no command "${name}"`);
      dispatcher.stats.errors.unknown_command = (dispatcher.stats.errors.unknown_command ?? 0) + 1;
      telemetry.refused("", "unknown_command");
      msg.respond(encoder.encode(JSON.stringify(errorReply(error))), {
        headers: toNatsHeaders({ [SERVICE_ERROR_CODE_HEADER]: String(error.status), [SERVICE_ERROR_HEADER]: headerSafe(error.message) }),
      });
    },
  });
  // Subscriptions are sent to the server asynchronously; a round trip makes sure
  // it has them before the caller announces the worker ready to other clients.
  await nc.flush();

  return {
    service,
    inFlight: () => admitted,
    async stop() {
      await Promise.allSettled([service.stop(), unknown.drain()]);
      while (handling.size > 0) await Promise.allSettled([...handling]);
    },
  };
}
