import { encodeUser } from "@nats-io/jwt";
import { fromPublic, type KeyPair } from "@nats-io/nkeys";

/** A public key that is not a NATS user NKey. */
export class BadPublicKeyError extends TypeError {
  override readonly name = "BadPublicKeyError";
  constructor() {
    super("publicKey must be a NATS user public NKey (56 characters starting with U)");
  }
}

/** Checks a user public NKey (prefix U, base32, valid checksum). */
export function assertUserPublicKey(value: unknown): string {
  if (typeof value !== "string" || !/^U[A-Z2-7]{55}$/.test(value)) throw new BadPublicKeyError();
  try {
    fromPublic(value);
  } catch {
    throw new BadPublicKeyError();
  }
  return value;
}

/**
 * A user JWT for `publicKey`, signed by a role's scoped signing key: the
 * permissions come from the key's template in the account JWT, so the user
 * JWT carries none (nats-server refuses a scoped user that does).
 */
export async function signUserJwt(options: { name: string; publicKey: string; account: string; signingKey: KeyPair; expiresAt: Date }): Promise<string> {
  return encodeUser(options.name, assertUserPublicKey(options.publicKey), options.account, {}, {
    signer: options.signingKey,
    scopedUser: true,
    exp: Math.floor(options.expiresAt.getTime() / 1000),
  });
}
