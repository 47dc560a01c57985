import { createHash } from 'node:crypto';
import type { EntityKind } from './entities/registry.js';

const MOD = 1n << 256n;
const MASK = MOD - 1n;

/** Adds a resource digest to a config hash sum (mod 2^256): the O(1) step of an upsert. */
export function addDigest(sum: bigint, digest: bigint): bigint {
  return (sum + digest) & MASK;
}

/** Subtracts a resource digest from a config hash sum (mod 2^256): the O(1) step of a removal. */
export function subtractDigest(sum: bigint, digest: bigint): bigint {
  return (sum - digest + MOD) & MASK;
}

/** The digest of one resource: sha256 over its kind, id and exact payload bytes. */
export function resourceDigest(kind: EntityKind, id: string, payload: Uint8Array): bigint {
  const h = createHash('sha256');
  h.update(kind);
  h.update('\0');
  h.update(id);
  h.update('\0');
  h.update(payload);
  return BigInt('0x' + h.digest('hex'));
}

/**
 * The content hash of a whole config: the sum, modulo 2^256, of every resource's digest (an
 * additive multiset hash). Both planes compute it over the exact payload bytes that travel on the
 * stream, and update it in O(1) per changed entity: adding a resource adds its digest, removing one
 * subtracts it. Two configs with the same resources give the same hash whatever the order of
 * operations that built them. An instance is mutable.
 */
export class ConfigHash {
  private sum: bigint;
  private readonly digests: Map<string, bigint>;

  constructor(sum = 0n, digests: Map<string, bigint> = new Map()) {
    this.sum = sum;
    this.digests = digests;
  }

  /** Number of resources covered. */
  get size(): number {
    return this.digests.size;
  }

  /** Sets (adds or replaces) the resource `kind/id` with the given payload bytes. */
  set(kind: EntityKind, id: string, payload: Uint8Array): void {
    const key = kind + '/' + id;
    const previous = this.digests.get(key);
    const next = resourceDigest(kind, id, payload);
    if (previous !== undefined) this.sum = subtractDigest(this.sum, previous);
    this.sum = addDigest(this.sum, next);
    this.digests.set(key, next);
  }

  /** Removes the resource `kind/id`; a no-op when absent. */
  delete(kind: EntityKind, id: string): void {
    const key = kind + '/' + id;
    const previous = this.digests.get(key);
    if (previous === undefined) return;
    this.sum = subtractDigest(this.sum, previous);
    this.digests.delete(key);
  }

  /** The current hash as 32 big-endian bytes. */
  bytes(): Uint8Array {
    const out = new Uint8Array(32);
    let v = this.sum;
    for (let i = 31; i >= 0; i--) {
      out[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    return out;
  }

  /** The current hash as 64 lower-case hex characters. */
  hex(): string {
    return this.sum.toString(16).padStart(64, '0');
  }
}

/** Hex form of hash bytes (empty string for empty/absent bytes). */
export function hashHex(bytes: Uint8Array | null | undefined): string {
  return bytes && bytes.length > 0 ? Buffer.from(bytes).toString('hex') : '';
}

/** Byte equality of two hashes. */
export function hashEquals(a: Uint8Array | null | undefined, b: Uint8Array | null | undefined): boolean {
  return hashHex(a) === hashHex(b);
}
