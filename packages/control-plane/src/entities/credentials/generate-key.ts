/**
 * key-auth's generated key, as Kong makes it (`kong/tools/rand.lua random_string`): 24 random bytes
 * in base64 (32 characters, no padding), with each `/` replaced by a random `A`–`Z` and each `+`
 * by a random `a`–`z`, so the key is alphanumeric and carries about 190 bits.
 */
import { randomBytes, randomInt } from 'node:crypto';

/** Random bytes behind a generated key (24, so 32 base64 characters). */
export const GENERATED_KEY_BYTES = 24;

/** A new key-auth key; see the module comment. */
export function generateKey(): string {
  return randomBytes(GENERATED_KEY_BYTES)
    .toString('base64')
    .replace(/[/+]/g, (c) => String.fromCharCode(c === '/' ? randomInt(65, 91) : randomInt(97, 123)));
}
