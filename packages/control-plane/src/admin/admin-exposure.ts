/**
 * Whether an Admin API may listen where it would: an Admin API without tokens is anyone's who can
 * reach it, so one on a non-loopback address needs tokens, or the operator's explicit
 * `--admin-allow-open` (e.g. behind a gateway that authenticates). Loopback is `127.0.0.0/8`,
 * `::1` and `localhost`; `0.0.0.0` and `::` listen on every interface, so they are not.
 */
import { isIP } from 'node:net';
import { ConfigurationError } from '../errors.js';

/** True when `host` only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h.startsWith('::ffff:127.');
}

/** Throws {@link ConfigurationError} when an open Admin API would listen on a non-loopback address. */
export function assertAdminExposure(options: { host: string; hasTokens: boolean; allowOpen: boolean }): void {
  if (options.hasTokens || options.allowOpen || isLoopbackHost(options.host)) return;
  throw new ConfigurationError(
    `refusing to serve the Admin API on ${options.host} without a token: anyone who reaches it could change the configuration. ` +
      'Set SLUICE_ADMIN_TOKEN or --admin-tokens-file, listen on 127.0.0.1, or pass --admin-allow-open to serve it open on purpose',
  );
}
