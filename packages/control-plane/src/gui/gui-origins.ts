/**
 * The origins a browser gives pages of the Sluice UI, from the address the UI listens on: they are
 * always allowed to call the Admin API (added to `--admin-gui-origin`'s list).
 *
 * A loopback address is reached as `127.0.0.1`, `localhost` or `[::1]`, so all three are allowed. A
 * specific address is allowed as written. A wildcard address (`0.0.0.0`, `::`) can be reached by
 * any name pointing at the machine; only the loopback names and this host's name are allowed
 * (allowing any host on that port would let any site on that port in). Other names under which
 * operators reach the UI go in `--admin-gui-origin`.
 */
import { hostname } from 'node:os';
import type { ListenAddress } from '../control-plane.js';

const LOOPBACK_HOSTS: readonly string[] = ['127.0.0.1', 'localhost', '[::1]'];

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/** The origins of the UI served on `address` (port already bound); see the module comment. */
export function guiOrigins(address: ListenAddress, localHostname: string = hostname()): string[] {
  const port = address.port;
  const hosts = isWildcard(address.host)
    ? [...LOOPBACK_HOSTS, localHostname.toLowerCase()]
    : isLoopback(address.host)
      ? [address.host.includes(':') ? `[${address.host}]` : address.host, ...LOOPBACK_HOSTS]
      : [address.host.includes(':') ? `[${address.host}]` : address.host];
  return [...new Set(hosts.map((h) => new URL(`http://${h}:${port}`).origin))];
}
