import { randomUUID } from "node:crypto";
import { sql, type Kysely } from "kysely";
import type { HeraldTables } from "../db/schema.js";

/** One signed credential, as recorded. */
export interface IssuanceRecord {
  subject: string;
  issuer: string;
  domain: string;
  role: string;
  nkey: string;
  expiresAt: Date;
  /** The OIDC token's `jti`. Default none. */
  tokenId?: string;
}

/** Records an issuance; the credential is handed out only once this commits. */
export async function recordIssuance(db: Kysely<HeraldTables>, record: IssuanceRecord): Promise<string> {
  const id = randomUUID();
  await db
    .insertInto("herald_identity_issuances")
    .values({
      id,
      expires_at: record.expiresAt,
      subject: record.subject,
      issuer: record.issuer,
      domain: record.domain,
      role: record.role,
      nkey: record.nkey,
      token_id: record.tokenId ?? null,
    })
    .execute();
  return id;
}

/**
 * Whether the issuer must refuse: the NKey is revoked, or the subject was
 * revoked after the token was issued (`iat`; a token without one counts as
 * issued before any revocation).
 */
export async function isRevoked(db: Kysely<HeraldTables>, subject: string, nkey: string, tokenIssuedAt: Date | undefined): Promise<boolean> {
  const { rows } = await sql<{ n: number }>`
    SELECT count(*)::BIGINT AS n FROM herald_identity_revocations
    WHERE (kind = 'key' AND value = ${nkey})
       OR (kind = 'subject' AND value = ${subject} AND revoked_at >= ${tokenIssuedAt ?? new Date(0)})`.execute(db);
  return Number(rows[0]?.n ?? 0) > 0;
}

/** NKeys issued to a subject whose credentials have not expired yet. */
export async function liveKeysOf(db: Kysely<HeraldTables>, subject: string): Promise<string[]> {
  const rows = await db
    .selectFrom("herald_identity_issuances")
    .select("nkey")
    .distinct()
    .where("subject", "=", subject)
    .where("expires_at", ">", sql<Date>`now()`)
    .execute();
  return rows.map((r) => r.nkey);
}

/** Records a revocation of a subject or an NKey. */
export async function recordRevocation(db: Kysely<HeraldTables>, kind: "subject" | "key", value: string): Promise<void> {
  await db.insertInto("herald_identity_revocations").values({ id: randomUUID(), kind, value }).execute();
}

/** Who held which role of a domain at a time: the issuances valid then. */
export async function issuancesAt(db: Kysely<HeraldTables>, options: { domain?: string; at: Date }) {
  let query = db
    .selectFrom("herald_identity_issuances")
    .selectAll()
    .where("issued_at", "<=", options.at)
    .where("expires_at", ">", options.at);
  if (options.domain) query = query.where("domain", "=", options.domain);
  return query.orderBy("issued_at").execute();
}
