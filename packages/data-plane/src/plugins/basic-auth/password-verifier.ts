import { createHash, scrypt, timingSafeEqual } from 'node:crypto';
import { kongSha1Input, parsePasswordHash, scryptMemoryBytes } from '@sluice/protocol';
import type { SlowHashQueue } from './slow-hash-queue.js';

/**
 * Whether `password` matches the stored `passwordHash` of a credential of consumer `consumerId`:
 * Kong's `hex(sha1(password .. consumer_id))` is checked at once (it is fast); Sluice's scrypt
 * hash on the thread pool (`crypto.scrypt`, async: the event loop is not blocked for the tens of
 * ms it costs), through `queue` when given (null: the queue is full, nothing was run). A hash in
 * neither form (or with scrypt parameters past the bounds) never matches. Comparisons are constant-time.
 */
export function verifyPassword(passwordHash: string, password: string, consumerId: string, queue?: SlowHashQueue): boolean | Promise<boolean> | null {
  const parsed = parsePasswordHash(passwordHash);
  if (parsed === null) return false;
  if (parsed.scheme === 'kong-sha1') {
    const actual = createHash('sha1').update(kongSha1Input(password, consumerId), 'utf8').digest();
    return timingSafeEqual(actual, Buffer.from(parsed.hex, 'hex'));
  }
  const { ln, r, p } = parsed.params;
  const expected = Buffer.from(parsed.hash);
  const run = (): Promise<boolean> => new Promise((resolve, reject) => {
    // maxmem above what the parameters need (128 * N * r bytes; parsing bounds it).
    const maxmem = 2 * scryptMemoryBytes(parsed.params);
    scrypt(password, parsed.salt, expected.length, { N: 2 ** ln, r, p, maxmem }, (err, derived) => {
      if (err) return reject(err);
      resolve(timingSafeEqual(derived, expected));
    });
  });
  return queue === undefined ? run() : queue.run(run);
}
