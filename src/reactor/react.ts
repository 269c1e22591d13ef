import type { Kysely } from "kysely";
import { context, propagation, ROOT_CONTEXT } from "@opentelemetry/api";
import type { HeraldClient, SendReply } from "../client/client.js";
import type { SendOptions } from "../client/options.js";
import type { AnyCommand, CommandInput, CommandResult } from "../commands/define-command.js";
import { consumerRetention } from "../config.js";
import { startConsumer } from "../consumer/consume.js";
import type { ConsumeOptionsBase, ConsumerContext, EventSchemaMap, HeraldConsumer, HeraldEvent } from "../consumer/types.js";
import { startPruner, type PrunerSettings } from "../operations/pruner.js";
import { recordGetter } from "../telemetry/propagation.js";
import { reactionKey, REACTOR_NAME } from "./reaction-key.js";
import { isTransientSendError, recordRejection, type ReactorRejection } from "./rejections.js";

export type { ReactorRejection };

/** What a reaction handler sees besides the event. */
export interface ReactorContext extends ConsumerContext {
  /**
   * Sends a command through `client` under the next key derived from the
   * reactor's name and the event id, in the event's trace. Resolves with the
   * stored outcome; a rejection is recorded and handed to `onRejected` first.
   * Send the same commands in the same order for the same event: the n-th call
   * always gets the n-th key.
   */
  send<C extends AnyCommand>(client: HeraldClient, command: C, input: CommandInput<C>, options?: Omit<SendOptions, "idempotencyKey">): Promise<SendReply<CommandResult<C>>>;
}

export interface ReactOptions<S extends EventSchemaMap> extends Omit<ConsumeOptionsBase<S>, "durable" | "maxDeliver"> {
  /** The reactor's name (`[A-Za-z0-9_-]`, 1-64): its durable consumer and the prefix of every key it sends. Required. */
  name: string;
  /** Turns one event into commands, through `ctx.send`. Throw to retry the event later. Required. */
  react(event: HeraldEvent<S>, ctx: ReactorContext): Promise<void> | void;
  /**
   * Compensation for a rejected command: runs before `ctx.send` resolves with
   * the rejection, may send commands itself (they continue the event's keys).
   * Default: none (the rejection is recorded and the reactor moves on).
   */
  onRejected?(rejection: ReactorRejection, event: HeraldEvent<S>, ctx: ReactorContext): Promise<void> | void;
  /** Where rejections are recorded (`herald_reactor_rejections`, migration 0004). Default: logged only. */
  db?: Kysely<any>;
  /**
   * With `db`: periodic prune of this reactor's rejections older than the
   * dead-letter retention (HERALD_DEAD_LETTER_RETENTION_HOURS, 720, read at
   * start, unless `deadLetterRetentionHours` is given), or `false` to leave it
   * to `herald prune`. Default: on, every 10 minutes.
   */
  prune?: false | Pick<PrunerSettings, "intervalMs" | "batchSize" | "deadLetterRetentionHours">;
  /**
   * Deliveries of an event whose handler fails for another reason than an
   * unavailable target (a bug, a refused input) before it is dead-lettered.
   * Failures that are safe to retry (`unavailable`, `timeout`, `overloaded`...)
   * never count: the event is retried, with the same keys, until it goes through.
   * Default 5.
   */
  maxDeliver?: number;
}

/**
 * A consumer that turns events into commands to other domains, exactly once
 * per (reactor, event, step): each command's idempotency key is derived from
 * the reactor's name and the event id, so a redelivered event or a restarted
 * reactor never applies a command twice. The trace continues from the event.
 */
export function react<S extends EventSchemaMap = EventSchemaMap>(options: ReactOptions<S>): Promise<HeraldConsumer> {
  const { name } = options;
  if (!REACTOR_NAME.test(name)) throw new TypeError(`react: name "${name}" must be 1-64 characters of A-Z, a-z, 0-9, _ and -`);
  const { react: handler, onRejected, db, prune, ...rest } = options;
  // Read now, before anything is created: a bad setting fails the start cleanly.
  const pruning = db && prune !== false ? { deadLetterRetentionHours: consumerRetention().deadLetterRetentionHours, ...prune } : undefined;
  const started = startConsumer(
    {
      ...rest,
      durable: name,
      // No inbox: the target domains' idempotency stores make the commands exactly once.
      db: undefined,
      appliedEndpoint: false,
      handle: (event, base) => {
        let step = 0;
        // The event carries the worker's trace context: the commands continue that trace.
        const parent = propagation.extract(ROOT_CONTEXT, event.headers as Record<string, string>, recordGetter);
        const ctx: ReactorContext = {
          ...base,
          async send(client, command, input, sendOptions = {}) {
            const idempotencyKey = reactionKey(name, event.id, step++);
            const reply = await context.with(parent, () => client.send(command, input, { ...sendOptions, idempotencyKey }));
            if (reply.status === "rejected") {
              const rejection: ReactorRejection = { reactor: name, eventId: event.id, subject: `${client.domain}.cmd.${command.name}`, idempotencyKey, reply };
              await recordRejection(db, rejection, base.logger);
              await onRejected?.(rejection, event as HeraldEvent<S>, ctx);
            }
            return reply;
          },
        };
        return handler(event as HeraldEvent<S>, ctx);
      },
    },
    { transient: isTransientSendError },
  );
  if (!db || !pruning) return started;
  return started.then((consumer) => withRejectionPruner(consumer, { ...pruning, db, consumer: name, logger: options.logger }));
}

/** The reactor's rejections grow with every rejected command: it prunes its own rows, and stops the pruner with itself. */
function withRejectionPruner(consumer: HeraldConsumer, options: Omit<Parameters<typeof startPruner>[0], "domain" | "targets">): HeraldConsumer {
  const pruner = startPruner({ ...options, domain: undefined, targets: ["reactorRejections"] });
  return {
    ...consumer,
    async stop() {
      await consumer.stop();
      await pruner.stop();
    },
  };
}
