/**
 * Hashes a basic-auth password for storage: scrypt (memory-hard) with a random salt and
 * {@link DEFAULT_SCRYPT_PARAMS}, in the self-describing form of `@sluice/protocol`'s
 * `password-hash.ts` (`$scrypt$ln=14,r=8,p=1$<salt>$<hash>`). Runs on libuv's thread pool, so the
 * event loop stays free for the ~50 ms a hash costs.
 */
import { randomBytes, scrypt } from 'node:crypto';
import { DEFAULT_SCRYPT_PARAMS, SCRYPT_HASH_BYTES, SCRYPT_SALT_BYTES, type ScryptParams, formatScryptHash, scryptMemoryBytes } from '@sluice/protocol';

/** The stored form of `password`; see the module comment. */
export function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): Promise<string> {
  const salt = randomBytes(SCRYPT_SALT_BYTES);
  return new Promise((resolve, reject) => {
    scrypt(
      password,
      salt,
      SCRYPT_HASH_BYTES,
      { N: 2 ** params.ln, r: params.r, p: params.p, maxmem: 2 * scryptMemoryBytes(params) },
      (err, hash) => (err ? reject(err) : resolve(formatScryptHash(params, salt, hash))),
    );
  });
}
