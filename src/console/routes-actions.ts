import { jetstream } from "@nats-io/jetstream";
import type { Hono } from "hono";
import { loadDeadLetters, parseDeadLetterId } from "../operations/dead-letters.js";
import { OperationInputError, parseDomain, parseEventSubject, parseSubjectPrefix, parseTime } from "../operations/inputs.js";
import { recordedAction } from "../operations/operator-log.js";
import { PRUNE_TARGETS, pruneExpired } from "../operations/prune.js";
import { redriveDeadLetters } from "../operations/redrive.js";
import { replayEvents } from "../operations/replay.js";
import { MAX_RANGE_MS } from "../operations/command-list.js";
import { HttpError, type ConsoleContext, type ConsoleEnv, type Renderer } from "./http.js";
import { confirmBody, resultBody } from "./dead-letters-view.js";
import type { ConsoleDeps } from "./deps.js";
import { routeDomain } from "./route-domain.js";
import { mayActIn, type Operator } from "./operator-auth.js";
import type { Session } from "./sessions.js";

type Form = Record<string, string | File | (string | File)[]>;

/**
 * What the console prunes: everything but the identity issuer's records, which its role cannot read, and
 * reactor rejections, which belong to no domain and which its role may not delete (`herald prune` and the reactors do).
 */
const CONSOLE_PRUNE_TARGETS = PRUNE_TARGETS.filter((t) => t !== "issuances" && t !== "reactorRejections");

/** The credential of `Authorization: Bearer <credential>`, if the request carries one. */
export const bearerCredential = (header: string | undefined): string | undefined => /^Bearer\s+(\S+)\s*$/i.exec(header ?? "")?.[1];

/**
 * A scripted action's operator, from its bearer credential, checked for the
 * action's domain. It gets a session of this request only: no cookie, and
 * no CSRF token to check, since no browser adds the header on its own.
 */
async function bearerSession(c: ConsoleContext, deps: ConsoleDeps, credential: string): Promise<Session> {
  if (!deps.authenticator?.bearer) throw new HttpError(401, "this console takes no bearer credential: sign in with the form");
  const operator: Operator = await deps.authenticator.bearer(credential, parseDomain(c.req.param("domain") ?? ""));
  return { id: "", operator, csrf: "", expiresAt: operator.expiresAt ?? Date.now() };
}

/** An action's gate: actions on, an operator signed in (or a bearer credential), allowed in the domain, the session's CSRF token in the form. Refusals change nothing. */
async function authorize(c: ConsoleContext, deps: ConsoleDeps): Promise<{ session: Session; form: Form }> {
  if (!deps.actions) throw new HttpError(403, "actions are turned off on this console (HERALD_CONSOLE_ACTIONS)");
  const credential = bearerCredential(c.req.header("authorization"));
  if (credential) return { session: await bearerSession(c, deps, credential), form: (await c.req.parseBody({ all: true })) as Form };
  const session = c.get("session");
  if (!session) throw new HttpError(401, "sign in as an operator first: actions need the operator credential");
  const domain = parseDomain(c.req.param("domain") ?? "");
  if (!mayActIn(session.operator, domain)) throw new HttpError(403, `${session.operator.name} is not an operator of domain ${domain}`);
  const form = (await c.req.parseBody({ all: true })) as Form;
  const token = typeof form.csrf === "string" ? form.csrf : undefined;
  if (!deps.sessions.checkCsrf(session, token)) throw new HttpError(403, "the form's CSRF token is missing or stale: reload the page and try again");
  return { session, form };
}

const strings = (v: Form[string] | undefined): string[] => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === "string"));
const field = (form: Form, name: string): string | undefined => strings(form[name])[0]?.trim() || undefined;
const confirmed = (form: Form) => field(form, "confirm") === "yes";

/** Redrive, replay and prune: each checked, confirmed on a second page, then run and recorded. */
export function mountActionRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps, view: Renderer): void {
  const done = (c: ConsoleContext, domain: string, title: string, message: string, back: string) =>
    view.render(c, { title, domain, tab: "dead-letters" }, resultBody(title, message, true, back));

  app.post("/d/:domain/actions/redrive", async (c) => {
    const { session, form } = await authorize(c, deps);
    const { domain, base } = await routeDomain(c, deps);
    const one = field(form, "one");
    const ids = [...new Set((one ? [one] : strings(form.id)).map(parseDeadLetterId))];
    const letters = await loadDeadLetters(deps.db, domain, ids);
    const back = `${base}/dead-letters`;
    if (!confirmed(form)) {
      const lines = letters.map((l) => `${l.consumer}: ${l.subject} (event ${l.eventId ?? "without ce-id"}, ${l.deliveries} deliveries) — ${l.error}`);
      return view.render(c, { title: "Confirm redrive", domain, tab: "dead-letters" }, confirmBody(`Redrive ${letters.length} dead letter(s)?`, lines, `${base}/actions/redrive`, { id: ids }, session, back));
    }
    const stream = deps.streamOf(domain);
    const redriven = await recordedAction(
      deps.db,
      { operator: session.operator.name, action: "redrive", domain, target: { ids } },
      () => redriveDeadLetters({ db: deps.db, js: jetstream(deps.nc), domain, ids, stream }),
      (r) => `redriven ${r.length}: ${r.map((x) => `${x.id}→seq ${x.seq}`).join(", ")}`,
    );
    return done(c, domain, "Redriven", `${redriven.length} dead letter(s) published again on ${stream}; the consumer applies each once through its inbox.`, back);
  });

  app.post("/d/:domain/actions/replay", async (c) => {
    const { session, form } = await authorize(c, deps);
    const { domain, base } = await routeDomain(c, deps);
    const now = new Date();
    const sinceText = field(form, "since");
    if (!sinceText) throw new OperationInputError("a replay needs since");
    const since = parseTime(sinceText, "since", now);
    const untilText = field(form, "until");
    const until = untilText ? parseTime(untilText, "until", now) : now;
    if (since >= until) throw new OperationInputError("since must be before until");
    if (until.getTime() - since.getTime() > MAX_RANGE_MS) throw new OperationInputError("a replay may cover at most 7 days");
    const subjectText = field(form, "subject");
    const prefixText = field(form, "prefix");
    const subject = subjectText ? parseEventSubject(domain, subjectText) : undefined;
    const toSubjectPrefix = prefixText ? parseSubjectPrefix(prefixText) : undefined;
    const options = { db: deps.db, domain, since, until, subject, toSubjectPrefix, maxEvents: deps.maxReplayEvents };
    const back = `${base}/dead-letters`;
    if (!confirmed(form)) {
      const dry = await replayEvents({ ...options, dryRun: true });
      const lines = [
        `${dry.total} event(s) of commands committed from ${since.toISOString()} until ${until.toISOString()}${subject ? ` on ${subject}` : ""}`,
        toSubjectPrefix ? `re-targeted to ${toSubjectPrefix}.<subject>, without Nats-Msg-Id` : "to their original subjects: JetStream drops those inside its duplicate window",
      ];
      const fields = { since: since.toISOString(), until: until.toISOString(), subject: subjectText ?? "", prefix: prefixText ?? "" };
      return view.render(c, { title: "Confirm replay", domain, tab: "dead-letters" }, confirmBody("Replay these events?", lines, `${base}/actions/replay`, fields, session, back));
    }
    const report = await recordedAction(
      deps.db,
      { operator: session.operator.name, action: "replay", domain, target: { since: since.toISOString(), until: until.toISOString(), subject: subject ?? null, toSubjectPrefix: toSubjectPrefix ?? null } },
      () => replayEvents({ ...options, js: jetstream(deps.nc) }),
      (r) => `replayed ${r.total}: ${r.published} published, ${r.duplicates} dropped as duplicates`,
    );
    return done(c, domain, "Replayed", `${report.total} event(s) replayed: ${report.published} published, ${report.duplicates} dropped as duplicates.`, back);
  });

  app.post("/d/:domain/actions/prune", async (c) => {
    const { session, form } = await authorize(c, deps);
    const { domain, base } = await routeDomain(c, deps);
    const back = `${base}/actions`;
    if (!confirmed(form)) {
      const dry = await pruneExpired({ db: deps.db, domain, targets: CONSOLE_PRUNE_TARGETS, ...deps.retention, dryRun: true });
      const lines = [`${dry.commands} expired command(s), ${dry.events} published event(s), ${dry.deadLetters} dead letter(s) and ${dry.operatorActions} operator action(s) past retention`, `inbox rows: every consumer's, ${dry.inbox} past retention (the inbox has no domain)`];
      return view.render(c, { title: "Confirm prune", domain, tab: "actions" }, confirmBody(`Prune ${domain}?`, lines, `${base}/actions/prune`, {}, session, back));
    }
    const report = await recordedAction(
      deps.db,
      { operator: session.operator.name, action: "prune", domain, target: { ...deps.retention } },
      () => pruneExpired({ db: deps.db, domain, targets: CONSOLE_PRUNE_TARGETS, ...deps.retention }),
      (r) => `deleted ${r.commands} commands, ${r.events} events, ${r.inbox} inbox rows, ${r.deadLetters} dead letters, ${r.operatorActions} operator actions`,
    );
    return view.render(c, { title: "Pruned", domain, tab: "actions" }, resultBody("Pruned", `Deleted ${report.commands} command(s), ${report.events} event(s), ${report.inbox} inbox row(s), ${report.deadLetters} dead letter(s), ${report.operatorActions} operator action(s).`, true, back));
  });
}
