import { describe, expect, it } from 'vitest';
import { formatScryptHash, isKongSha1Hash, parseScryptHash } from './password-hash.js';

describe('stored basic-auth password hashes', () => {
  const salt = new Uint8Array(16).fill(7);
  const hash = new Uint8Array(32).fill(9);

  it('round-trips a scrypt hash through its stored form', () => {
    const stored = formatScryptHash({ logN: 15, r: 8, p: 1, salt, hash });
    expect(stored).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
    expect(parseScryptHash(stored)).toEqual({ logN: 15, r: 8, p: 1, salt, hash });
  });

  it('refuses parameters past the bounds (a hostile hash could stall a data plane) and malformed forms', () => {
    expect(parseScryptHash(formatScryptHash({ logN: 21, r: 8, p: 1, salt, hash }))).toBeNull();
    expect(parseScryptHash(formatScryptHash({ logN: 15, r: 33, p: 1, salt, hash }))).toBeNull();
    expect(parseScryptHash(formatScryptHash({ logN: 15, r: 8, p: 1, salt: new Uint8Array(4), hash }))).toBeNull();
    expect(parseScryptHash('$scrypt$ln=15,r=8$AAAA$AAAA')).toBeNull();
    expect(parseScryptHash('kong')).toBeNull();
  });

  it('recognises Kong\'s sha1 form: 40 lower-case hex characters', () => {
    expect(isKongSha1Hash('a'.repeat(40))).toBe(true);
    expect(isKongSha1Hash('A'.repeat(40))).toBe(false);
    expect(isKongSha1Hash('a'.repeat(39))).toBe(false);
  });
});
