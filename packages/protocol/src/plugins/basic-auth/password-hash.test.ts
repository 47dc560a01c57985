import { describe, expect, it } from 'vitest';
import { DEFAULT_SCRYPT_PARAMS, MAX_SCRYPT_MEMORY_BYTES, formatScryptHash, isKongSha1Hash, kongSha1Input, parsePasswordHash, scryptMemoryBytes } from './password-hash.js';

const salt = new Uint8Array(16).fill(7);
const hash = new Uint8Array(32).fill(9);

describe('basic-auth password hashes', () => {
  it("recognises Kong's sha1 form: exactly 40 lower-case hex digits", () => {
    const hex = 'a'.repeat(40);
    expect(isKongSha1Hash(hex)).toBe(true);
    expect(parsePasswordHash(hex)).toEqual({ scheme: 'kong-sha1', hex });
    for (const s of ['A'.repeat(40), 'a'.repeat(39), 'a'.repeat(41), 'g'.repeat(40), 'kong']) expect(parsePasswordHash(s), s).toBeNull();
    expect(kongSha1Input(' kong ', 'c-id')).toBe(' kong c-id');
  });

  it('round-trips the scrypt form', () => {
    const stored = formatScryptHash(DEFAULT_SCRYPT_PARAMS, salt, hash);
    expect(stored).toBe(`$scrypt$ln=14,r=8,p=1$${Buffer.from(salt).toString('base64').replace(/=+$/, '')}$${Buffer.from(hash).toString('base64').replace(/=+$/, '')}`);
    expect(parsePasswordHash(stored)).toEqual({ scheme: 'scrypt', params: { ln: 14, r: 8, p: 1 }, salt, hash });
    expect(scryptMemoryBytes(DEFAULT_SCRYPT_PARAMS)).toBe(16 * 1024 * 1024);
  });

  it('is not a hash when the parameters would make a verifier allocate or spin past the bounds', () => {
    const tooMuchMemory = formatScryptHash({ ln: 17, r: 8, p: 1 }, salt, hash);
    expect(scryptMemoryBytes({ ln: 17, r: 8, p: 1 })).toBeGreaterThan(MAX_SCRYPT_MEMORY_BYTES);
    expect(parsePasswordHash(tooMuchMemory)).toBeNull();
    expect(parsePasswordHash(formatScryptHash({ ln: 14, r: 8, p: 17 }, salt, hash))).toBeNull();
    expect(parsePasswordHash(formatScryptHash(DEFAULT_SCRYPT_PARAMS, new Uint8Array(4), hash))).toBeNull();
    expect(parsePasswordHash(formatScryptHash(DEFAULT_SCRYPT_PARAMS, salt, new Uint8Array(8)))).toBeNull();
    expect(parsePasswordHash(formatScryptHash(DEFAULT_SCRYPT_PARAMS, salt, new Uint8Array(65)))).toBeNull();
  });

  it('is not a hash when the text is malformed', () => {
    const good = formatScryptHash(DEFAULT_SCRYPT_PARAMS, salt, hash);
    for (const bad of [
      good.replace('$scrypt$', '$argon2$'),
      good.replace('ln=14', 'ln=014'),
      good.replace('ln=14,r=8', 'r=8,ln=14'),
      `${good}=`,
      `${good}$extra`,
      good.replace(/\$[^$]+$/, '$not base64!'),
      good.replace(/\$[^$]+$/, '$A'),
    ]) {
      expect(parsePasswordHash(bad), bad).toBeNull();
    }
  });
});
