/**
 * The forms a basic-auth credential's stored `password` takes (never the clear text):
 * - Kong's: 40 lower-case hex characters, `hex(sha1(password .. consumer_id))` (accepted on import).
 * - Sluice's: `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt base64>$<hash base64>` (node:crypto scrypt,
 *   hash length = the decoded hash's length).
 */

/** The prefix of a Sluice scrypt hash. */
export const SCRYPT_HASH_PREFIX = '$scrypt$';

/** Bounds on the scrypt parameters a stored hash may carry: a hash past them is refused, never run (it could stall a data plane). */
export const SCRYPT_LIMITS = { maxLogN: 20, maxR: 32, maxP: 16, minSaltBytes: 8, minHashBytes: 16, maxHashBytes: 128 } as const;

/** A parsed scrypt hash. */
export interface ScryptHash {
  /** log2 of the CPU/memory cost N. */
  readonly logN: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Uint8Array;
  readonly hash: Uint8Array;
}

const KONG_SHA1 = /^[0-9a-f]{40}$/;
const SCRYPT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

/** Whether `stored` is Kong's `sha1(password .. consumer_id)` hash form. */
export function isKongSha1Hash(stored: string): boolean {
  return KONG_SHA1.test(stored);
}

/** The scrypt hash `stored` holds, or null when it is not one, or its parameters are out of {@link SCRYPT_LIMITS}. */
export function parseScryptHash(stored: string): ScryptHash | null {
  const m = SCRYPT.exec(stored);
  if (m === null) return null;
  const logN = Number(m[1]);
  const r = Number(m[2]);
  const p = Number(m[3]);
  if (logN < 1 || logN > SCRYPT_LIMITS.maxLogN || r < 1 || r > SCRYPT_LIMITS.maxR || p < 1 || p > SCRYPT_LIMITS.maxP) return null;
  const salt = Buffer.from(m[4]!, 'base64');
  const hash = Buffer.from(m[5]!, 'base64');
  if (salt.length < SCRYPT_LIMITS.minSaltBytes || hash.length < SCRYPT_LIMITS.minHashBytes || hash.length > SCRYPT_LIMITS.maxHashBytes) return null;
  return { logN, r, p, salt: new Uint8Array(salt), hash: new Uint8Array(hash) };
}

/** The stored form of a scrypt hash (the inverse of {@link parseScryptHash}). */
export function formatScryptHash(h: ScryptHash): string {
  return `${SCRYPT_HASH_PREFIX}ln=${h.logN},r=${h.r},p=${h.p}$${Buffer.from(h.salt).toString('base64')}$${Buffer.from(h.hash).toString('base64')}`;
}
