import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { oidcAuthenticator, oidcOperatorName } from "../../src/console/oidc-auth.js";
import { parsePolicy } from "../../src/identity/policy.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { startOidcProvider, type TestOidcProvider } from "../kit/oidc-provider.js";
import { waitFor } from "../kit/wait.js";
import { launchBrowser } from "./browser.js";
import { startConsoleFixture, type ConsoleFixture } from "./console-fixture.js";

let f: ConsoleFixture;
let trusted: TestOidcProvider;
let untrusted: TestOidcProvider;
const logLines: string[] = [];
/** Every token handed out in this file: none may appear in a page or a log line. */
const issued: string[] = [];

const W = { operator: "ops-alice", expiring: "ops-brief", client: "app-client", elsewhere: "ops-elsewhere" } as const;

const policyYaml = (issuer: string, domain: string) => `version: 1
issuers:
  - issuer: ${issuer}
    audiences: [herald]
    algorithms: [ES256]
    allowInsecureLoopback: true
mappings:
  - domain: ${domain}
    role: operator
    maxLifetime: 1h
    match:
      groups: [herald-operators]
  - domain: ${domain}
    role: client
    match:
      sub: ${W.client}
  - domain: elsewhere
    role: operator
    match:
      sub: ${W.elsewhere}
`;

const token = async (p: TestOidcProvider, workload: string, resource?: string) => {
  const t = await p.token(workload, resource ? { resource } : {});
  issued.push(t);
  return t;
};
const expOf = (jwt: string): number => JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString()).exp;
const db = () => f.h.database.db;
const base = () => `/d/${f.h.domain}`;
const deadLetters = () => db().selectFrom("herald_dead_letters").select("id").execute();
const actions = () => db().selectFrom("herald_operator_actions").selectAll().orderBy("at").orderBy("id").execute();

async function post(path: string, body: Record<string, string | string[]>, headers: Record<string, string> = {}) {
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(body)) for (const x of [v].flat()) form.append(k, x);
  const response = await fetch(`${f.console.url}${path}`, { method: "POST", body: form, headers: { origin: f.console.url, ...headers }, redirect: "manual" });
  const text = await response.text();
  for (const t of issued) assert.ok(!text.includes(t), `the answer to ${path} renders no token`);
  return { status: response.status, text, cookie: response.headers.get("set-cookie") ?? "" };
}
/** A scripted action: the token as a bearer header, no Origin, no cookie. */
const scripted = (path: string, body: Record<string, string | string[]>, jwt: string) =>
  post(path, body, { authorization: `Bearer ${jwt}`, origin: "", accept: "application/json" });

async function signIn(jwt: string): Promise<{ status: number; text: string; cookie: string; session?: string }> {
  const r = await post("/login", { credential: jwt });
  return { ...r, session: r.status === 302 ? r.cookie.split(";")[0] : undefined };
}
async function csrfOf(session: string): Promise<string> {
  const page = await (await fetch(`${f.console.url}${base()}/dead-letters`, { headers: { cookie: session } })).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
  assert.ok(csrf, "a signed-in page carries the CSRF token");
  return csrf;
}

before(async () => {
  trusted = await startOidcProvider([
    { id: W.operator, groups: ["herald-operators"] },
    { id: W.expiring, groups: ["herald-operators"], ttlSeconds: 2 },
    { id: W.client },
    { id: W.elsewhere },
  ]);
  untrusted = await startOidcProvider([{ id: W.operator, groups: ["herald-operators"] }]);
  const logger = createLogger({ level: "debug", destination: { write: (line: string) => void logLines.push(line) } });
  f = await startConsoleFixture({ actions: true, logger, authenticatorFor: (domain) => oidcAuthenticator(parsePolicy(policyYaml(trusted.issuer, domain))) });
  assert.equal((await f.h.send("open_account", { accountId: f.poisonAccount, owner: "p" })).body.status, "committed");
  await waitFor(async () => (await deadLetters()).length === 1 || undefined, { what: "the poison event dead-lettered" });
});
after(async () => {
  await f?.close();
  await trusted?.close();
  await untrusted?.close();
});

test("tokens of another role, an untrusted issuer, another audience or another domain are refused with 401/403 and change nothing", async () => {
  const [letter] = await deadLetters();
  const redrive = { id: letter!.id, confirm: "yes" };
  const path = `${base()}/actions/redrive`;
  const refusals: [what: string, jwt: string, status: number, reason: RegExp][] = [
    ["not a JWT", "not.a-token", 401, /not a JWT/],
    ["an untrusted issuer", await token(untrusted, W.operator), 401, /issuer is not trusted/],
    ["another audience", await token(trusted, W.operator, "urn:other"), 401, /not meant for Herald/],
    ["the client role", await token(trusted, W.client), 403, /operator role/],
  ];
  for (const [what, jwt, status, reason] of refusals) {
    const form = await signIn(jwt);
    assert.equal(form.status, status, `sign-in with ${what}`);
    assert.match(form.text, reason, `the sign-in page says why (${what})`);
    assert.equal(form.session, undefined);
    const script = await scripted(path, redrive, jwt);
    assert.equal(script.status, status, `bearer with ${what}`);
    assert.match(JSON.parse(script.text).error, reason);
  }

  // An operator of another domain signs in, but may not act in this one, from the form or as a script.
  const elsewhere = await token(trusted, W.elsewhere);
  const signedIn = await signIn(elsewhere);
  assert.equal(signedIn.status, 302);
  const csrf = await csrfOf(signedIn.session!);
  const acted = await post(path, { ...redrive, csrf }, { cookie: signedIn.session! });
  assert.equal(acted.status, 403);
  assert.match(acted.text, new RegExp(`not an operator of domain ${f.h.domain}`));
  const script = await scripted(path, redrive, elsewhere);
  assert.equal(script.status, 403);
  assert.match(JSON.parse(script.text).error, new RegExp(`operator role in domain ${f.h.domain}`));

  assert.equal((await deadLetters()).length, 1, "the dead letter is still there");
  assert.deepEqual(await actions(), [], "nothing recorded");
});

test("a trusted operator token redrives from the signed-in form and prunes as a script; the log records its subject and issuer", async () => {
  const [letter] = await deadLetters();
  f.heal();
  const jwt = await token(trusted, W.operator);
  const signedIn = await signIn(jwt);
  assert.equal(signedIn.status, 302, signedIn.text);
  const maxAge = Number(/Max-Age=(\d+)/i.exec(signedIn.cookie)?.[1]);
  assert.ok(maxAge > 0 && maxAge <= expOf(jwt) - Math.floor(Date.now() / 1000) + 1, `the cookie (Max-Age ${maxAge}) ends with the token`);
  const csrf = await csrfOf(signedIn.session!);
  const done = await post(`${base()}/actions/redrive`, { id: letter!.id, confirm: "yes", csrf }, { cookie: signedIn.session! });
  assert.equal(done.status, 200, done.text);
  assert.deepEqual(await deadLetters(), []);

  // A script: without confirm=yes it gets the confirmation page and nothing runs; with it, the prune runs.
  const prune = `${base()}/actions/prune`;
  assert.equal((await scripted(prune, {}, jwt)).status, 200);
  assert.equal((await actions()).length, 1, "the unconfirmed prune ran nothing");
  const pruned = await scripted(prune, { confirm: "yes" }, jwt);
  assert.equal(pruned.status, 200, pruned.text);

  const operator = oidcOperatorName(W.operator, trusted.issuer);
  assert.deepEqual(
    (await actions()).map((a) => [a.operator, a.action, a.outcome]),
    [
      [operator, "redrive", "done"],
      [operator, "prune", "done"],
    ],
  );
});

test("in the browser, an operator pastes the token into the sign-in form, prunes, and the page names the subject, not the token", async () => {
  const browser = await launchBrowser();
  try {
    const page = await browser.context.newPage();
    const jwt = await token(trusted, W.operator);
    await page.goto(`${f.console.url}/login`);
    await page.fill("input[name=credential]", jwt);
    await page.click("form.stack button");
    await page.goto(`${f.console.url}${base()}/actions`);
    const operator = oidcOperatorName(W.operator, trusted.issuer);
    assert.match((await page.textContent("header")) ?? "", new RegExp(`Operator: ${operator.replace(/[.()]/g, "\\$&")}`));
    const before = (await actions()).length;
    await page.click("text=Prune…");
    await page.waitForSelector("#confirm");
    await page.click("#confirm");
    await page.waitForSelector("#result");
    const log = await actions();
    assert.equal(log.length, before + 1);
    assert.deepEqual([log.at(-1)!.operator, log.at(-1)!.action], [operator, "prune"]);
    assert.ok(!(await page.content()).includes(jwt), "the page renders no token");
  } finally {
    await browser.close();
  }
});

test("a session never outlives its token: after exp the session and the token are refused", async () => {
  const jwt = await token(trusted, W.expiring);
  const signedIn = await signIn(jwt);
  assert.equal(signedIn.status, 302, signedIn.text);
  const before = (await actions()).length;
  await waitFor(() => Date.now() > expOf(jwt) * 1000, { what: "the token's exp", timeoutMs: 5000 });
  // The session is gone: the page no longer carries a CSRF token, and an action asks to sign in.
  const page = await (await fetch(`${f.console.url}${base()}/dead-letters`, { headers: { cookie: signedIn.session! } })).text();
  assert.doesNotMatch(page, /name="csrf"/);
  assert.equal((await post(`${base()}/actions/prune`, { confirm: "yes" }, { cookie: signedIn.session! })).status, 401);
  const again = await signIn(jwt);
  assert.equal(again.status, 401);
  assert.match(again.text, /expired/);
  assert.equal((await scripted(`${base()}/actions/prune`, { confirm: "yes" }, jwt)).status, 401);
  assert.equal((await actions()).length, before, "nothing recorded");
});

test("no token reaches the console's log, which names the operators who signed in", () => {
  const log = logLines.join("");
  assert.match(log, /operator signed in/);
  assert.ok(log.includes(oidcOperatorName(W.operator, trusted.issuer)));
  for (const t of issued) assert.ok(!log.includes(t), "a token was logged");
});
