import type { z } from "zod";

/** One problem with a command's input, as the `details` of an `invalid_command` reply carry it. */
export interface InputIssue {
  path: Array<string | number>;
  message: string;
  code: string;
}

/** zod issues as plain JSON for the `details` of an `invalid_command` reply. */
export function issuesToDetails(error: z.ZodError): InputIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map((p) => (typeof p === "symbol" ? String(p) : p)),
    message: issue.message,
    code: issue.code,
  }));
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;

/**
 * Fields of the body that the schema's output no longer has: a `z.object`
 * (zod's default "strip" mode) drops unknown keys without a word, so a
 * misspelled optional field would commit as if absent. Walks the body and the
 * output side by side wherever both are plain objects (or arrays of one length).
 * Strict objects never get here with unknown keys; loose ones keep them.
 */
export function droppedFields(body: unknown, output: unknown, path: Array<string | number> = []): InputIssue[] {
  if (Array.isArray(body) && Array.isArray(output)) {
    if (body.length !== output.length) return [];
    return body.flatMap((item, i) => droppedFields(item, output[i], [...path, i]));
  }
  if (!isPlainObject(body) || !isPlainObject(output)) return [];
  const issues: InputIssue[] = [];
  const unknown = Object.keys(body).filter((k) => !Object.hasOwn(output, k));
  if (unknown.length > 0) {
    issues.push({ path, code: "unrecognized_keys", message: `Unrecognized key${unknown.length > 1 ? "s" : ""}: ${unknown.map((k) => JSON.stringify(k)).join(", ")}` });
  }
  for (const [k, v] of Object.entries(body)) if (Object.hasOwn(output, k)) issues.push(...droppedFields(v, output[k], [...path, k]));
  return issues;
}

/**
 * Validates a parsed JSON body against a command's input schema, refusing
 * unknown fields whatever object mode the schema uses (the protocol's "rejected,
 * never silently dropped"). A field that a schema's own transform removes counts
 * as unknown too: declare the input plainly and reshape it in the handler.
 */
export function checkInput(schema: z.ZodType, body: unknown): { ok: true; data: unknown } | { ok: false; issues: InputIssue[] } {
  const parsed = schema.safeParse(body);
  if (!parsed.success) return { ok: false, issues: issuesToDetails(parsed.error) };
  const dropped = droppedFields(body, parsed.data);
  return dropped.length > 0 ? { ok: false, issues: dropped } : { ok: true, data: parsed.data };
}
