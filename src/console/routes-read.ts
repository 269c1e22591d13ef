import type { Hono } from "hono";
import { html } from "hono/html";
import { streamSSE } from "hono/streaming";
import { listCommands, parseCommandFilter, type CommandFilterInput } from "../operations/command-list.js";
import { commandWindow } from "../operations/command-window.js";
import { deadLetterCounts, listDeadLetters, parseConsumerName } from "../operations/dead-letters.js";
import { listOperatorActions } from "../operations/operator-log.js";
import { domainOverview } from "../operations/overview.js";
import { loadCommandTrace } from "../operations/trace.js";
import { HttpError, type ConsoleEnv, type Renderer } from "./http.js";
import { routeDomain } from "./route-domain.js";
import { commandBody, commandsBody } from "./commands-view.js";
import { actionsBody, deadLettersBody, pruneForm } from "./dead-letters-view.js";
import type { ConsoleDeps } from "./deps.js";
import { liveBody } from "./misc-views.js";
import { overviewBody, overviewFigures } from "./overview-view.js";
import { streamLive } from "./live-stream.js";

const FILTER_KEYS = ["command", "status", "since", "until", "limit", "before"] as const;

/** The read-only views: overview, commands, dead letters, operator log, live. */
export function mountReadRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps, view: Renderer): void {
  const overview = (domain: string) => domainOverview({ db: deps.db, dialect: deps.dialect, nc: deps.nc, domain, stream: deps.streamOf(domain) });

  app.get("/d/:domain", async (c) => {
    const { domain, base } = await routeDomain(c, deps);
    return view.render(c, { title: `${domain} overview`, domain, tab: "overview", chart: true }, overviewBody(await overview(domain), base));
  });
  app.get("/d/:domain/overview/figures", async (c) => {
    const { domain, base } = await routeDomain(c, deps);
    return c.html(overviewFigures(await overview(domain), base));
  });
  app.get("/d/:domain/overview/rates.json", async (c) => {
    const { domain } = await routeDomain(c, deps);
    return c.json(await commandWindow(deps.db, domain, 60));
  });

  app.get("/d/:domain/commands", async (c) => {
    const { domain, base } = await routeDomain(c, deps);
    const input: CommandFilterInput = Object.fromEntries(FILTER_KEYS.map((k) => [k, c.req.query(k)?.slice(0, 200)]).filter(([, v]) => v));
    const result = await listCommands(deps.db, parseCommandFilter(domain, input));
    return view.render(c, { title: "Commands", domain, tab: "commands" }, commandsBody(base, input, result));
  });
  app.get("/d/:domain/commands/find", async (c) => {
    const { domain, base } = await routeDomain(c, deps);
    const q = (c.req.query("q") ?? "").trim();
    if (q.length === 0 || q.length > 256) throw new HttpError(400, "give an idempotency key or a command id (at most 256 characters)");
    const trace = await loadCommandTrace(deps.db, q, domain);
    return c.redirect(`${base}/commands/${trace.id}`);
  });
  app.get("/d/:domain/commands/:ref", async (c) => {
    const { domain } = await routeDomain(c, deps);
    const ref = c.req.param("ref");
    if (ref.length > 256) throw new HttpError(400, "a command reference is at most 256 characters");
    const trace = await loadCommandTrace(deps.db, ref, domain);
    return view.render(c, { title: trace.command, domain, tab: "commands" }, commandBody(trace, deps.jaegerUrl));
  });

  app.get("/d/:domain/dead-letters", async (c) => {
    const { domain, base } = await routeDomain(c, deps);
    const raw = c.req.query("consumer");
    const consumer = raw ? parseConsumerName(raw) : undefined;
    const [counts, letters] = await Promise.all([deadLetterCounts(deps.db, domain), listDeadLetters(deps.db, { domain, consumer, limit: 100 })]);
    const body = deadLettersBody({ base, consumer, counts, letters, actions: deps.actions, session: c.get("session") });
    return view.render(c, { title: "Dead letters", domain, tab: "dead-letters" }, body);
  });

  app.get("/d/:domain/actions", async (c) => {
    const { domain, base } = await routeDomain(c, deps);
    const session = c.get("session");
    const form = deps.actions && session ? pruneForm(base, session) : "";
    return view.render(c, { title: "Operator log", domain, tab: "actions" }, html`${form}${actionsBody(await listOperatorActions(deps.db, domain, 100))}`);
  });

  app.get("/d/:domain/live", async (c) => {
    const { domain, base } = await routeDomain(c, deps);
    return view.render(c, { title: "Live", domain, tab: "live" }, liveBody(base, deps.streamOf(domain)));
  });
  app.get("/d/:domain/live/stream", async (c) => {
    const { domain } = await routeDomain(c, deps);
    return streamSSE(c, (sse) => streamLive(sse, deps, domain));
  });
}
