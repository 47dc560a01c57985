import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors.js';
import { connectionTokens, HEADER_KINDS, headerKind } from './header-names.js';
import { TrustedIps } from './trusted-ips.js';

describe('TrustedIps', () => {
  it('matches addresses and CIDR blocks, IPv4 (also IPv4-mapped) and IPv6', () => {
    const trusted = new TrustedIps(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32']);
    expect(trusted.has('10.1.2.3')).toBe(true);
    expect(trusted.has('::ffff:10.1.2.3')).toBe(true);
    expect(trusted.has('192.168.1.7')).toBe(true);
    expect(trusted.has('192.168.1.8')).toBe(false);
    expect(trusted.has('2001:db8::1')).toBe(true);
    expect(trusted.has('2001:db9::1')).toBe(false);
    expect(trusted.has(undefined)).toBe(false);
    expect(new TrustedIps([]).has('10.1.2.3')).toBe(false);
    expect(new TrustedIps(['0.0.0.0/0', '::/0']).has('8.8.8.8')).toBe(true);
  });

  it('refuses entries that are not addresses or CIDR blocks, with a coded error', () => {
    for (const bad of ['nope', '10.0.0.0/33', '10.0.0.0/x', '::1/129']) {
      expect(() => new TrustedIps([bad])).toThrow(InvalidArgumentError);
    }
  });
});

describe('header names', () => {
  it('classifies whatever the case', () => {
    expect(headerKind('X-Forwarded-For')).toBe(HEADER_KINDS.xForwardedFor);
    expect(headerKind('x-FORWARDED-for')).toBe(HEADER_KINDS.xForwardedFor);
    expect(headerKind('TE')).toBe(HEADER_KINDS.hopByHop);
    expect(headerKind('Content-Type')).toBe(HEADER_KINDS.other);
    expect(headerKind('X-Anything')).toBe(HEADER_KINDS.other);
  });

  it('lists the header names a Connection header makes hop-by-hop', () => {
    expect(connectionTokens('keep-alive')).toBeNull();
    expect(connectionTokens('Close')).toBeNull();
    expect(connectionTokens('keep-alive, X-Secret ,Upgrade, x-other')).toEqual(['x-secret', 'x-other']);
  });
});
