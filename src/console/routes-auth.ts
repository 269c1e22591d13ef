import type { Hono } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import { HttpError, type ConsoleContext, type ConsoleEnv, type Renderer } from "./http.js";
import type { ConsoleDeps } from "./deps.js";
import { loginBody } from "./misc-views.js";
import { OperatorRefusedError, type Operator, type OperatorAuthenticator } from "./operator-auth.js";

/** Name of the operator session cookie (HttpOnly, SameSite=Strict). */
export const SESSION_COOKIE = "herald_console_session";

/** Refused sign-ins allowed in any 60 s, across all clients; past them the form answers 429. */
const FAILURES_PER_MINUTE = 20;

/** Remembers the last refused sign-ins: guessing the token gets 20 tries a minute, not thousands. */
function failureThrottle(): { blocked(): boolean; failed(): void } {
  const times: number[] = [];
  const recent = () => {
    while (times.length > 0 && times[0]! < Date.now() - 60_000) times.shift();
    return times.length;
  };
  return {
    blocked: () => recent() >= FAILURES_PER_MINUTE,
    failed: () => {
      times.push(Date.now());
      if (times.length > FAILURES_PER_MINUTE) times.shift();
    },
  };
}

/** The form's credential checked: the operator, or the refusal's status and the reason to show. */
async function checkCredential(auth: OperatorAuthenticator, credential: string): Promise<{ operator: Operator } | { status: 401 | 403; message: string }> {
  try {
    const operator = credential ? await auth.verify!(credential) : undefined;
    return operator ? { operator } : { status: 401, message: "That credential is not the operator's." };
  } catch (err) {
    if (err instanceof OperatorRefusedError) return { status: err.status, message: err.message };
    throw err;
  }
}

/** Sign-in and sign-out: a form for a token, or a redirect to an identity provider and back. */
export function mountAuthRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps, view: Renderer): void {
  const signIn = (c: ConsoleContext, operator: Operator) => {
    const session = deps.sessions.create(operator);
    setCookie(c, SESSION_COOKIE, session.id, { httpOnly: true, sameSite: "Strict", path: "/", secure: deps.secureCookie, maxAge: Math.max(1, Math.floor((session.expiresAt - Date.now()) / 1000)) });
    deps.logger.info({ operator: operator.name, via: operator.via }, "operator signed in");
    return c.redirect("/");
  };
  const throttle = failureThrottle();
  app.get("/login", (c) => view.render(c, { title: "Sign in" }, loginBody(deps.authenticator)));
  app.post("/login", async (c) => {
    const auth = deps.authenticator;
    if (!auth?.verify) throw new HttpError(404, "this console has no sign-in form");
    if (throttle.blocked()) return view.render(c, { title: "Sign in" }, loginBody(auth, "Too many refused sign-ins: wait a minute."), 429);
    const form = await c.req.parseBody();
    const credential = typeof form.credential === "string" ? form.credential : "";
    const outcome = await checkCredential(auth, credential);
    if (!("operator" in outcome)) {
      throttle.failed();
      deps.logger.warn({ ip: c.req.header("x-forwarded-for") ?? "direct", reason: outcome.message }, "operator sign-in refused");
      return view.render(c, { title: "Sign in" }, loginBody(auth, outcome.message), outcome.status);
    }
    return signIn(c, outcome.operator);
  });
  app.get("/auth/start", async (c) => {
    const auth = deps.authenticator;
    if (!auth?.start) throw new HttpError(404, "this console has no identity provider");
    return c.redirect(await auth.start(new URL("/auth/callback", c.req.url).toString()));
  });
  app.get("/auth/callback", async (c) => {
    const auth = deps.authenticator;
    if (!auth?.finish) throw new HttpError(404, "this console has no identity provider");
    const operator = await auth.finish(new URL(c.req.url));
    if (!operator) throw new HttpError(401, "the identity provider's answer was refused");
    return signIn(c, operator);
  });
  app.post("/logout", async (c) => {
    const session = c.get("session");
    const form = await c.req.parseBody();
    if (session && deps.sessions.checkCsrf(session, typeof form.csrf === "string" ? form.csrf : undefined)) deps.sessions.end(session.id);
    deleteCookie(c, SESSION_COOKIE, { path: "/" });
    return c.redirect("/");
  });
}
