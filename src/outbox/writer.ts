import { randomUUID } from "node:crypto";
import type { z } from "zod";
import type { EventSchemas } from "../commands/define-command.js";
import { cloudEventHeaders, type EventOrigin } from "../protocol/cloudevents.js";
import { eventSubject } from "../protocol/subjects.js";
import type { OutboxEvent } from "./outbox-event.js";

/** An event a handler emitted but whose data does not match the command's event schema. */
export class InvalidEventError extends Error {
  override readonly name = "InvalidEventError";
  constructor(readonly event: string, readonly issues: readonly z.core.$ZodIssue[]) {
    super(`event "${event}" does not match its schema: ${issues.map((i) => `${i.path.join(".") || "(root)"} ${i.message}`).join("; ")}`);
  }
}

/**
 * Turns a handler's event drafts into outbox events: checks each against its
 * schema (an undeclared event is a bug too), gives it an id and its headers.
 */
export function buildEvents(
  origin: EventOrigin,
  schemas: EventSchemas,
  drafts: ReadonlyArray<{ name: string; data: unknown }>,
  time: Date,
): OutboxEvent[] {
  return drafts.map((draft, position) => {
    const schema = Object.hasOwn(schemas, draft.name) ? schemas[draft.name] : undefined;
    if (!schema) throw new InvalidEventError(draft.name, [{ code: "custom", path: [], message: "is not declared in the command's events", input: draft.data } as z.core.$ZodIssue]);
    const parsed = schema.safeParse(draft.data);
    if (!parsed.success) throw new InvalidEventError(draft.name, parsed.error.issues);
    const id = randomUUID();
    return {
      id,
      commandId: origin.commandId,
      domain: origin.domain,
      subject: eventSubject(origin.domain, draft.name),
      type: draft.name,
      position,
      data: parsed.data,
      headers: cloudEventHeaders(origin, { id, name: draft.name, time }),
    };
  });
}
