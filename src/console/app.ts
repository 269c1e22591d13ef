import { Hono } from "hono";
import { getCookie } from "hono/cookie";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import { secureHeaders } from "hono/secure-headers";
import { NotFoundError, OperationInputError } from "../operations/inputs.js";
import { knownDomains } from "../operations/domains.js";
import { redactText } from "../security/redact.js";
import { mountAssets } from "./assets.js";
import type { ConsoleDeps } from "./deps.js";
import { HttpError, type ConsoleContext, type ConsoleEnv, type Renderer } from "./http.js";
import { page, type PageContext } from "./layout.js";
import { errorBody, noDomainsBody } from "./misc-views.js";
import { OperatorRefusedError } from "./operator-auth.js";
import { bearerCredential, mountActionRoutes } from "./routes-actions.js";
import { mountAuthRoutes, SESSION_COOKIE } from "./routes-auth.js";
import { mountReadRoutes } from "./routes-read.js";


function renderer(deps: ConsoleDeps): Renderer {
  let domains: { at: number; list: Promise<string[]> } | undefined;
  const list = () => {
    if (!domains || Date.now() - domains.at > 10_000) domains = { at: Date.now(), list: knownDomains(deps.db, 50).catch(() => []) };
    return domains.list;
  };
  return {
    async render(c, ctx, body, status = 200) {
      const full: PageContext = { ...ctx, domains: await list(), session: c.get("session"), actions: deps.actions };
      return c.html(page(full, body), status as 200);
    },
  };
}

const CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", "data:"],
  connectSrc: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  objectSrc: ["'none'"],
};

/** The console's web application: pages, the live stream, actions and assets. */
export function createConsoleApp(deps: ConsoleDeps): Hono<ConsoleEnv> {
  const app = new Hono<ConsoleEnv>();
  const view = renderer(deps);
  app.use(secureHeaders({ contentSecurityPolicy: CSP, referrerPolicy: "same-origin" }));
  // Cross-site form posts are refused by Origin (and Sec-Fetch-Site); actions also check the session's CSRF token.
  // A bearer credential is a script's: a cross-site page could only send it after a CORS preflight the console never grants, and it never uses the cookie session.
  const sameOrigin = csrf();
  app.use((c, next) => (bearerCredential(c.req.header("authorization")) ? next() : sameOrigin(c, next)));
  app.use(async (c, next) => {
    c.set("session", deps.sessions.get(getCookie(c, SESSION_COOKIE)));
    await next();
  });
  mountAssets(app);
  app.get("/healthz", (c) => c.text("ok"));
  app.get("/", async (c) => {
    const domains = await knownDomains(deps.db, 1);
    return domains[0] ? c.redirect(`/d/${domains[0]}`) : view.render(c, { title: "No domains" }, noDomainsBody());
  });
  app.get("/go", (c) => c.redirect(`/d/${encodeURIComponent(c.req.query("domain") ?? "")}`));
  mountAuthRoutes(app, deps, view);
  mountReadRoutes(app, deps, view);
  mountActionRoutes(app, deps, view);
  app.notFound((c) => view.render(c as ConsoleContext, { title: "Not found" }, errorBody(404, `nothing at ${c.req.path}`), 404));
  app.onError((err, c) => {
    // Hono's own refusals (the CSRF origin check's 403) carry their status.
    const status = err instanceof HttpError || err instanceof HTTPException || err instanceof OperatorRefusedError ? err.status : err instanceof OperationInputError ? 400 : err instanceof NotFoundError ? 404 : 500;
    if (status === 500) deps.logger.error({ err: redactText(err.message), path: c.req.path }, "console request failed");
    // A server error's text may name internals: the page says only that it failed.
    const message = status === 500 ? "the request failed; the console's log has the reason" : err instanceof HTTPException ? "the request came from another site" : redactText(err.message);
    if (c.req.header("accept")?.includes("application/json")) return c.json({ error: message }, status);
    return view.render(c as ConsoleContext, { title: "Error" }, errorBody(status, message), status);
  });
  return app;
}
