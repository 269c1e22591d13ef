import type { Transaction } from "kysely";
import type { z } from "zod";
import { assertSegment } from "../protocol/subjects.js";

/** A business rule said no: stored under the key, replayed to duplicates, nothing else kept. */
export interface Rejection {
  readonly kind: "rejection";
  readonly code: string;
  readonly message: string;
}

/** Event schemas of a command, by event name (`transferred` → subject `<domain>.evt.transferred`). */
export type EventSchemas = Record<string, z.ZodType>;

/** One event a handler emits: a name from the command's `events` and data matching it. */
export type EventDraft<E extends EventSchemas> = {
  [K in keyof E & string]: { name: K; data: z.input<E[K]> };
}[keyof E & string];

/** What a handler sees. It never sees NATS: only its transaction and the command's identity. */
export interface CommandContext<DB = any> {
  /** The command's SERIALIZABLE transaction; every write goes through it. */
  readonly tx: Transaction<DB>;
  readonly domain: string;
  readonly commandId: string;
  readonly idempotencyKey: string;
  /** 1 for the first attempt; higher when the transaction is retried after a conflict. */
  readonly attempt: number;
  readonly receivedAt: Date;
  /** Builds the value to return for a business rejection, e.g. `return ctx.reject("insufficient_funds", "…")`. */
  reject(code: string, message: string): Rejection;
}

export interface HandlerSuccess<Result, E extends EventSchemas> {
  result: Result;
  events?: EventDraft<E>[];
}

export type HandlerOutcome<Result, E extends EventSchemas> = HandlerSuccess<Result, E> | Rejection;

/** What a set-based handler sees: one transaction for several commands, and who each one is. */
export interface BatchContext<DB = any> {
  /** The batch's SERIALIZABLE transaction. */
  readonly tx: Transaction<DB>;
  readonly domain: string;
  /** Identity of each command, in the order of the inputs. */
  readonly commands: ReadonlyArray<{ readonly commandId: string; readonly idempotencyKey: string; readonly receivedAt: Date }>;
  reject(code: string, message: string): Rejection;
}

/** A command: its name, input schema, event schemas and handler. */
export interface CommandDefinition<
  Name extends string = string,
  Input extends z.ZodType = z.ZodType,
  Result = unknown,
  E extends EventSchemas = EventSchemas,
  DB = any,
> {
  /** Command name, the last subject segment: `<domain>.cmd.<name>`. */
  readonly name: Name;
  /** Validates the request body. Unknown fields are refused whatever the object mode (`z.object` included): see checkInput. */
  readonly input: Input;
  /** Schemas of the events the handler may emit; data is checked against them. */
  readonly events: E;
  /** One-line description, shown in service discovery. */
  readonly description?: string;
  /** Runs inside the transaction; retried with it, so it must only touch the database. */
  handle(ctx: CommandContext<DB>, input: z.output<Input>): Promise<HandlerOutcome<Result, E>>;
  /** Optional set-based form of `handle`, used for several commands of one group-commit batch (see defineCommand). */
  handleBatch?(ctx: BatchContext<DB>, inputs: ReadonlyArray<z.output<Input>>): Promise<ReadonlyArray<HandlerOutcome<Result, E>>>;
}

/** Any command definition, whatever its types. */
export type AnyCommand = CommandDefinition<string, z.ZodType, any, any, any>;

/** Input and result types of a command, for typed clients. */
export type CommandInput<C> = C extends CommandDefinition<string, infer I, any, any, any> ? z.input<I> : never;
export type CommandResult<C> = C extends CommandDefinition<string, z.ZodType, infer R, any, any> ? R : never;

const REJECTION_CODE = /^[a-z][a-z0-9_]{0,63}$/;

/** Creates a rejection outcome; codes are snake_case so clients can switch on them. */
export function reject(code: string, message: string): Rejection {
  if (!REJECTION_CODE.test(code)) throw new TypeError(`rejection code "${code}" must be snake_case`);
  return Object.freeze({ kind: "rejection", code, message });
}

export function isRejection(value: unknown): value is Rejection {
  return typeof value === "object" && value !== null && (value as Rejection).kind === "rejection";
}

/** Declares a command. Names are checked now so mistakes fail at start, not at the first request. */
export function defineCommand<
  const Name extends string,
  Input extends z.ZodType,
  Result,
  E extends EventSchemas = {},
  DB = any,
>(definition: {
  name: Name;
  input: Input;
  events?: E;
  description?: string;
  handle(ctx: CommandContext<DB>, input: z.output<Input>): Promise<HandlerOutcome<Result, E>>;
  /**
   * Optional: the same rules as `handle` for several commands at once, in one
   * go (a read of all their rows, a write of all that changed), for when
   * commands queue up and share a transaction. It must return one outcome per
   * input, in order, exactly as `handle` run on each in turn would (a later
   * input sees the earlier ones' effects), and write nothing for a rejected
   * input: there is no savepoint per command. A database a network hop away
   * then costs a batch its two round trips instead of two per command. If it
   * throws, its commands run again one by one with `handle`. Default: none.
   */
  handleBatch?(ctx: BatchContext<DB>, inputs: ReadonlyArray<z.output<Input>>): Promise<ReadonlyArray<HandlerOutcome<Result, E>>>;
}): CommandDefinition<Name, Input, Result, E, DB> {
  assertSegment("command name", definition.name);
  const events = (definition.events ?? {}) as E;
  for (const event of Object.keys(events)) assertSegment("event name", event);
  return Object.freeze({ ...definition, events });
}
