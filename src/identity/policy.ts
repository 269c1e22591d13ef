import { readFile } from "node:fs/promises";
import { isNode, LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { parseDuration } from "./duration.js";

/**
 * The role policy: which OIDC issuers and audiences are trusted, and which
 * claims give which Herald role in which domain, for how long at most. One
 * YAML (or JSON) file, checked with zod; every problem names its line.
 */

/** Asymmetric JWS algorithms only: `none` and HMAC (HS256 with a public key as the secret) can never be allowed. */
export const TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"] as const;
/** The longest credential any mapping may give. */
export const MAX_LIFETIME_SECONDS = 24 * 3600;

const list = (item: z.ZodString) => z.union([item, z.array(item).min(1)]).transform((v) => (typeof v === "string" ? [v] : v));
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

const issuerSchema = z
  .object({
    /** Issuer URL, exactly as the tokens' `iss`; discovery is `<issuer>/.well-known/openid-configuration`. */
    issuer: z.string().url(),
    /** Accepted `aud` values; a token must carry one. */
    audiences: list(z.string().min(1)),
    /** Accepted signing algorithms. Default RS256 and ES256. */
    algorithms: z.array(z.enum(TOKEN_ALGORITHMS)).min(1).default(["RS256", "ES256"]),
    /** Claim holding groups (a dotted path for nested claims). Default `groups`. */
    groupsClaim: z.string().min(1).default("groups"),
    /** Claim holding roles, e.g. `realm_access.roles` (Keycloak). Default `roles`. */
    rolesClaim: z.string().min(1).default("roles"),
    /** Seconds of clock skew accepted on `exp`/`nbf`. Default 0. */
    clockToleranceSeconds: z.number().int().min(0).max(300).default(0),
    /** Allow a plain-HTTP issuer on a loopback address (tests, local development). Default false. */
    allowInsecureLoopback: z.boolean().default(false),
  })
  .strict()
  .superRefine((value, ctx) => {
    const url = new URL(value.issuer);
    if (url.protocol === "https:") return;
    if (url.protocol === "http:" && value.allowInsecureLoopback && LOOPBACK.has(url.hostname)) return;
    ctx.addIssue({ code: "custom", path: ["issuer"], message: "must be an https:// URL (plain http only on a loopback address with allowInsecureLoopback: true)" });
  });

const matchSchema = z
  .object({
    /** Exact `sub` values. */
    sub: list(z.string().min(1)).optional(),
    /** Any of these in the issuer's groups claim. */
    groups: list(z.string().min(1)).optional(),
    /** Any of these in the issuer's roles claim. */
    roles: list(z.string().min(1)).optional(),
    /** Kubernetes service accounts as `<namespace>/<name>`. */
    serviceAccount: list(z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "must be <namespace>/<name>")).optional(),
  })
  .strict()
  .refine((m) => m.sub || m.groups || m.roles || m.serviceAccount, { message: "name at least one of sub, groups, roles or serviceAccount: a mapping never matches everyone" });

const mappingSchema = z
  .object({
    /** The Herald domain the role is in. */
    domain: z.string().regex(/^[a-z0-9_]{1,64}$/, "must be 1-64 characters of a-z, 0-9 and _ (one domain, no wildcard)"),
    /** `worker`, `client`, `cdc`, `operator` or `consumer:<durable>`. */
    role: z.string().regex(/^(worker|client|cdc|operator|consumer:[A-Za-z0-9_-]{1,64})$/, "must be worker, client, cdc, operator or consumer:<durable>"),
    /** Only tokens of this trusted issuer. Default: any trusted issuer. */
    issuer: z.string().url().optional(),
    /** Longest credential given, e.g. `15m`, `1h` (at most 24h). Default `1h`. */
    maxLifetime: z
      .string()
      .default("1h")
      .refine((v) => (parseDuration(v) ?? Infinity) <= MAX_LIFETIME_SECONDS, { message: "must be a duration like 15m or 1h, at most 24h" }),
    match: matchSchema,
  })
  .strict();

const policySchema = z
  .object({
    version: z.literal(1),
    issuers: z.array(issuerSchema).min(1),
    mappings: z.array(mappingSchema).min(1),
  })
  .strict()
  .superRefine((policy, ctx) => {
    const trusted = new Set(policy.issuers.map((i) => i.issuer));
    policy.mappings.forEach((m, i) => {
      if (m.issuer && !trusted.has(m.issuer)) ctx.addIssue({ code: "custom", path: ["mappings", i, "issuer"], message: "is not one of the trusted issuers" });
    });
    policy.issuers.forEach((iss, i) => {
      if (policy.issuers.findIndex((o) => o.issuer === iss.issuer) !== i) ctx.addIssue({ code: "custom", path: ["issuers", i, "issuer"], message: "is listed twice" });
    });
  });

export type TrustedIssuer = z.infer<typeof issuerSchema>;
export type RoleMapping = z.infer<typeof mappingSchema> & { readonly maxLifetimeSeconds: number };
export interface RolePolicy {
  readonly issuers: readonly TrustedIssuer[];
  readonly mappings: readonly RoleMapping[];
}

/** A policy file that cannot be used; each problem names its line. */
export class PolicyError extends Error {
  override readonly name = "PolicyError";
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid identity policy ${source}:\n${problems.map((p) => `  ${p}`).join("\n")}`);
  }
}

/** Parses policy text (YAML or JSON); throws PolicyError listing every problem with its line. */
export function parsePolicy(text: string, source = "(policy)"): RolePolicy {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    throw new PolicyError(source, doc.errors.map((e) => `line ${lines.linePos(e.pos[0]).line}: ${e.message.split("\n")[0]}`));
  }
  const parsed = policySchema.safeParse(doc.toJS());
  if (!parsed.success) {
    const lineOf = (path: readonly PropertyKey[]): number | undefined => {
      // The deepest node of the path that exists: a missing key is reported at its parent.
      for (let n = path.length; n >= 0; n--) {
        const node = doc.getIn(path.slice(0, n) as unknown[], true);
        if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
      }
      return undefined;
    };
    throw new PolicyError(
      source,
      parsed.error.issues.map((issue) => `line ${lineOf(issue.path) ?? 1}: ${issue.path.join(".") || "(root)"}: ${issue.message}`),
    );
  }
  return {
    issuers: parsed.data.issuers,
    mappings: parsed.data.mappings.map((m) => ({ ...m, maxLifetimeSeconds: parseDuration(m.maxLifetime)! })),
  };
}

/** Reads and parses a policy file. */
export async function loadPolicy(path: string): Promise<RolePolicy> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new PolicyError(path, [`cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`]);
  }
  return parsePolicy(text, path);
}
