import { z } from "zod";

/** JSON Schema as a plain object (draft-07, the base of AsyncAPI's Schema Object). */
export type JsonSchema = Record<string, unknown>;

/** A zod schema the AsyncAPI document cannot express (a date, a transform, a bigint, …). */
export class SchemaExportError extends Error {
  override readonly name = "SchemaExportError";
  constructor(
    /** What the schema belongs to, e.g. `bank.cmd.transfer (input)`. */
    readonly owner: string,
    options: { cause?: unknown } = {},
  ) {
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(`the schema of ${owner} cannot be expressed in JSON Schema (${reason}); use JSON types (string, number, boolean, object, array) with checks, and keep transforms out of message schemas`, options);
  }
}

/** Marks an object schema that says nothing of other keys (zod's strip mode) as refusing them. */
function closeObjects(ctx: { zodSchema: unknown; jsonSchema: JsonSchema }): void {
  const def = (ctx.zodSchema as { _zod?: { def?: { type?: string } } })._zod?.def;
  if (def?.type === "object" && ctx.jsonSchema.type === "object" && ctx.jsonSchema.additionalProperties === undefined) {
    ctx.jsonSchema.additionalProperties = false;
  }
}

/**
 * The JSON Schema of a message payload, from its zod schema. `io: "input"` is
 * what a sender may put on the wire (command bodies), `"output"` what a reader
 * gets (event data, parsed before it is stored). Refinements (cross-field
 * rules) have no JSON Schema form and are left out: the worker still checks them.
 * Unrepresentable types throw a SchemaExportError instead of widening to "any".
 */
export function payloadSchema(schema: z.ZodType, owner: string, io: "input" | "output"): JsonSchema {
  let json: JsonSchema;
  try {
    json = z.toJSONSchema(schema, {
      target: "draft-7",
      io,
      unrepresentable: "throw",
      // A worker refuses unknown fields of a command body whatever the object
      // mode (docs/protocol.md §2), so a plain z.object is closed on the wire too.
      override: io === "input" ? closeObjects : undefined,
    }) as JsonSchema;
  } catch (err) {
    throw new SchemaExportError(owner, { cause: err });
  }
  // The document states its schema format once; a per-payload $schema adds nothing.
  const { $schema: _dialect, ...rest } = json;
  return rest;
}
