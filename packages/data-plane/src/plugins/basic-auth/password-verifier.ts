import { createHash, scrypt, timingSafeEqual } from 'node:crypto';
import { isKongSha1Hash, parseScryptHash } from '@sluice/protocol';
import type { SlowHashQueue } from './slow-hash-queue.js';

/**
 * Whether `password` matches the stored `passwordHash` of a credential of consumer `consumerId`:
 * Kong's `hex(sha1(password .. consumer_id))` is checked at once (it is fast); Sluice's scrypt
 * hash on the thread pool (`crypto.scrypt`, async: the event loop is not blocked for the tens of
 * ms it costs), through `queue` when given (null: the queue is full, nothing was run). A hash in
 * neither form (or with scrypt parameters past the bounds) never matches. Comparisons are constant-time.
 */
export function verifyPassword(passwordHash: string, password: string, consumerId: string, queue?: SlowHashQueue): boolean | Promise<boolean> | null {
  if (isKongSha1Hash(passwordHash)) {
    const actual = createHash('sha1').update(password + consumerId, 'utf8').digest();
    return timingSafeEqual(actual, Buffer.from(passwordHash, 'hex'));
  }
  const parsed = parseScryptHash(passwordHash);
  if (parsed === null) return false;
  const N = 2 ** parsed.logN;
  const expected = Buffer.from(parsed.hash);
  const run = (): Promise<boolean> => new Promise((resolve, reject) => {
    // maxmem above what the parameters need (128 * N * r * p bytes, and the default 32 MiB).
    const maxmem = Math.max(32 * 1024 * 1024, 256 * N * parsed.r * parsed.p);
    scrypt(password, parsed.salt, expected.length, { N, r: parsed.r, p: parsed.p, maxmem }, (err, derived) => {
      if (err) return reject(err);
      resolve(timingSafeEqual(derived, expected));
    });
  });
  return queue === undefined ? run() : queue.run(run);
}
