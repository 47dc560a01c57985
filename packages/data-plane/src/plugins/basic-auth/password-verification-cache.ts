import { createHmac, randomBytes } from 'node:crypto';

/** Successful basic-auth verifications a data plane remembers (default 10,000 entries, about 1.5 MB). */
export const BASIC_AUTH_CACHE_MAX_ENTRIES = 10_000;

/**
 * The successful password verifications of basic-auth, so that a slow hash (scrypt) runs once per
 * credential and password, not once per request: a bounded LRU (least recently used entry evicted
 * past `maxEntries`) of keys made of the credential id, its stored hash (a changed password is a
 * new key) and an HMAC of the presented password under a key drawn at start (the cache never
 * holds a password or an offline-testable digest of it). Only successes are kept: a wrong
 * password is verified every time.
 *
 * A Map kept in recency order (a hit moves its key to the end, eviction takes the first) is all an
 * LRU of string keys needs: O(1) per operation, no dependency.
 */
export class PasswordVerificationCache {
  private readonly entries = new Map<string, true>();
  private readonly secret = randomBytes(32);

  constructor(readonly maxEntries: number = BASIC_AUTH_CACHE_MAX_ENTRIES) {}

  /** Entries held now. */
  get size(): number {
    return this.entries.size;
  }

  /** The cache key of `password` presented for the credential `credentialId` whose stored hash is `passwordHash`. */
  keyOf(credentialId: string, passwordHash: string, password: string): string {
    const digest = createHmac('sha256', this.secret).update(password, 'utf8').digest('base64');
    return `${credentialId}\u0000${passwordHash}\u0000${digest}`;
  }

  /** Whether `key` verified before (and marks it recently used). */
  has(key: string): boolean {
    if (!this.entries.has(key)) return false;
    this.entries.delete(key);
    this.entries.set(key, true);
    return true;
  }

  /** Remembers a successful verification, evicting the least recently used entry past the bound. */
  add(key: string): void {
    if (this.maxEntries <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, true);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }
}
