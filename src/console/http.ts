import type { Context } from "hono";
import type { Html, PageContext } from "./layout.js";
import type { Session } from "./sessions.js";

/** Hono environment of the console's routes. */
export type ConsoleEnv = { Variables: { session: Session | undefined } };
export type ConsoleContext = Context<ConsoleEnv>;

/** A refusal the console answers with a status and a page, changing nothing. */
export class HttpError extends Error {
  override readonly name = "HttpError";
  constructor(readonly status: 400 | 401 | 403 | 404, message: string) {
    super(message);
  }
}

/** Renders pages with the shell; the domain list is cached for a few seconds. */
export interface Renderer {
  render(c: ConsoleContext, ctx: Omit<PageContext, "domains" | "session" | "actions">, body: Html, status?: number): Promise<Response>;
}
