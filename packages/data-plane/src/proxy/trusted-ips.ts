import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { InvalidArgumentError } from '../errors.js';

/**
 * The client addresses whose own `X-Forwarded-*` and `X-Real-IP` headers are believed (Kong's
 * `trusted_ips`): single addresses or CIDR blocks, IPv4 or IPv6. `0.0.0.0/0` and `::/0` trust all.
 */
export class TrustedIps {
  private readonly list = new BlockList();
  /** Whether no address is trusted (the common case: skip the lookup). */
  readonly isEmpty: boolean;

  /** @throws InvalidArgumentError for an entry that is not an address or a CIDR block. */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [address = '', bits] = entry.trim().split('/');
      const type = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : null;
      const prefix = bits === undefined ? undefined : Number(bits);
      const maxPrefix = type === 'ipv4' ? 32 : 128;
      if (type === null || (prefix !== undefined && (!Number.isInteger(prefix) || prefix < 0 || prefix > maxPrefix || !/^\d+$/.test(bits!)))) {
        throw new InvalidArgumentError(`invalid trusted IP or CIDR: '${entry}'`);
      }
      if (prefix === undefined) this.list.addAddress(address, type);
      else this.list.addSubnet(address, prefix, type);
    }
    this.isEmpty = entries.length === 0;
  }

  /** Whether `address` (as reported by the socket; `::ffff:a.b.c.d` counts as IPv4) is trusted. */
  has(address: string | undefined): boolean {
    if (this.isEmpty || address === undefined) return false;
    try {
      if (isIPv4(address)) return this.list.check(address, 'ipv4');
      if (address.startsWith('::ffff:') && isIPv4(address.slice(7))) return this.list.check(address.slice(7), 'ipv4') || this.list.check(address, 'ipv6');
      return this.list.check(address, 'ipv6');
    } catch {
      return false;
    }
  }
}
