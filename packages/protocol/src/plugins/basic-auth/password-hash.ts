/**
 * The stored form of a basic-auth password (`basicauth_credentials.password`), which is never the
 * clear text. Two schemes are recognised:
 *
 * | scheme | stored string | verify |
 * |---|---|---|
 * | `kong-sha1` | 40 lower-case hex digits (Kong's `basic-auth/crypto.lua`) | `hex(sha1(password .. consumer_id)) == stored` |
 * | `scrypt` | `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>` (salt and hash in base64 without padding) | `scrypt(password, salt, len(hash), {N: 2^ln, r, p}) == hash` |
 *
 * The control plane hashes every new password with scrypt; Kong's sha1 hashes are accepted only
 * from an import that says they are hashes already (Kong's declarative `_transform: false`), so a
 * Kong user's credentials keep working. Pure: formats and parses, never hashes (the planes use
 * `node:crypto`). Parsing bounds the parameters so a hostile stored string cannot make a verifier
 * allocate or spin without limit: such a string is "not a hash" and never verifies.
 */

/** Scrypt's cost parameters as stored: `N = 2^ln`, block size `r`, parallelism `p`. */
export interface ScryptParams {
  readonly ln: number;
  readonly r: number;
  readonly p: number;
}

/**
 * The parameters the control plane hashes new passwords with: N = 2^14, r = 8, p = 1, i.e. 16 MiB of
 * memory and about 50 ms of CPU (measured on the reference machine, 2 shared cores, Node 20, with
 * other work running; 2–4 times that when both cores are saturated). A data plane is meant to
 * verify a credential once and cache the outcome, so the cost is per credential, not per request.
 */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = Object.freeze({ ln: 14, r: 8, p: 1 });

/** Salt bytes of a new scrypt hash (16). */
export const SCRYPT_SALT_BYTES = 16;
/** Derived-key bytes of a new scrypt hash (32). */
export const SCRYPT_HASH_BYTES = 32;

/** Most memory a stored scrypt hash may ask a verifier for, in bytes (`128 * N * r`; 64 MiB). */
export const MAX_SCRYPT_MEMORY_BYTES = 64 * 1024 * 1024;
/** Largest parallelism a stored scrypt hash may ask for (16). */
export const MAX_SCRYPT_PARALLELISM = 16;
/** Accepted salt lengths of a stored scrypt hash, in bytes (8 to 64). */
export const SCRYPT_SALT_BYTES_RANGE: readonly [number, number] = [8, 64];
/** Accepted derived-key lengths of a stored scrypt hash, in bytes (16 to 64). */
export const SCRYPT_HASH_BYTES_RANGE: readonly [number, number] = [16, 64];

/** The memory scrypt needs for `params`, in bytes (`128 * N * r`); a verifier's `maxmem` must exceed it. */
export function scryptMemoryBytes(params: ScryptParams): number {
  return 128 * 2 ** params.ln * params.r;
}

/** A stored password hash, parsed. */
export type PasswordHash =
  | { readonly scheme: 'kong-sha1'; readonly hex: string }
  | { readonly scheme: 'scrypt'; readonly params: ScryptParams; readonly salt: Uint8Array; readonly hash: Uint8Array };

/** The schemes of {@link PasswordHash}. */
export const PASSWORD_HASH_SCHEMES = ['kong-sha1', 'scrypt'] as const;
export type PasswordHashScheme = (typeof PASSWORD_HASH_SCHEMES)[number];

const KONG_SHA1 = /^[0-9a-f]{40}$/;
const SCRYPT = /^\$scrypt\$ln=([1-9][0-9]?),r=([1-9][0-9]{0,2}),p=([1-9][0-9]?)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/** True when `stored` is Kong's sha1 form (40 lower-case hex digits). */
export function isKongSha1Hash(stored: string): boolean {
  return KONG_SHA1.test(stored);
}

/** Unpadded base64 to bytes, or null when the text is not canonical unpadded base64. */
function fromBase64(text: string): Uint8Array | null {
  if (text.length % 4 === 1) return null;
  const bytes = Buffer.from(text, 'base64');
  return toBase64(bytes) === text ? new Uint8Array(bytes) : null;
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/=+$/, '');
}

function within(n: number, [min, max]: readonly [number, number]): boolean {
  return n >= min && n <= max;
}

/**
 * Parses a stored password; null when it is not a hash Sluice recognises or when its parameters
 * break the bounds above (`MAX_SCRYPT_MEMORY_BYTES`, `MAX_SCRYPT_PARALLELISM`, salt and hash lengths).
 */
export function parsePasswordHash(stored: string): PasswordHash | null {
  if (KONG_SHA1.test(stored)) return { scheme: 'kong-sha1', hex: stored };
  const m = SCRYPT.exec(stored);
  if (m === null) return null;
  const params: ScryptParams = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (params.p > MAX_SCRYPT_PARALLELISM || scryptMemoryBytes(params) > MAX_SCRYPT_MEMORY_BYTES) return null;
  const salt = fromBase64(m[4]!);
  const hash = fromBase64(m[5]!);
  if (salt === null || hash === null || !within(salt.length, SCRYPT_SALT_BYTES_RANGE) || !within(hash.length, SCRYPT_HASH_BYTES_RANGE)) return null;
  return { scheme: 'scrypt', params, salt, hash };
}

/** The stored string of a scrypt hash; `parsePasswordHash` reads it back. */
export function formatScryptHash(params: ScryptParams, salt: Uint8Array, hash: Uint8Array): string {
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${toBase64(salt)}$${toBase64(hash)}`;
}

/**
 * What Kong's sha1 scheme hashes: the password followed by the consumer id (`crypto.lua
 * salt_password`). The verifier compares `hex(sha1(kongSha1Input(...)))` with the stored hex.
 */
export function kongSha1Input(password: string, consumerId: string): string {
  return password + consumerId;
}
