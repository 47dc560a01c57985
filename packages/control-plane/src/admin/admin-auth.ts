/**
 * Admin API authentication and roles. With no token configured the Admin API is open (as Kong
 * without RBAC); with tokens, every request carries one, as `Authorization: Bearer <token>` or
 * Kong's `Kong-Admin-Token: <token>`:
 *
 * - none, or one that matches no token: 401 `{"message":"Invalid credentials. Token or User
 *   credentials required"}` (Kong's RBAC answer) with `WWW-Authenticate: Bearer`, before the body is
 *   read, so nothing is written;
 * - a `read-only` token on a write (POST, PUT, PATCH, DELETE): 403 `{"message":"<name>, you do not
 *   have permissions to <create|update|delete> this resource"}`.
 *
 * `OPTIONS` is answered without a token: a browser's CORS preflight never carries credentials, and
 * an OPTIONS answer lists methods only. A page of an allowed origin (`--admin-gui-origin`) sends
 * its real requests with the token like any client.
 *
 * The token set is swapped whole by {@link AdminAuthenticator.replace} (SIGHUP reloads the file),
 * and the identity of each request is on `request.adminIdentity` for the audit log.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from '../errors.js';
import { type AdminIdentity, AdminTokenSet } from './admin-tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who sent the request (the token's name and role), or null when the Admin API is open or the token is unknown. */
    adminIdentity: AdminIdentity | null;
  }
}

/** Methods a read-only token may not use, and the action Kong's message names. */
const WRITE_ACTIONS: Readonly<Record<string, string>> = { POST: 'create', PUT: 'update', PATCH: 'update', DELETE: 'delete' };

/** The token a request presents, or null. */
export function presentedToken(request: Pick<FastifyRequest, 'headers'>): string | null {
  const kong = request.headers['kong-admin-token'];
  if (typeof kong === 'string' && kong.trim() !== '') return kong.trim();
  const authorization = request.headers.authorization;
  if (typeof authorization !== 'string') return null;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  return m ? m[1]! : null;
}

/** See the module comment. */
export class AdminAuthenticator {
  #tokens: AdminTokenSet;

  constructor(tokens: AdminTokenSet = AdminTokenSet.EMPTY) {
    this.#tokens = tokens;
  }

  /** The current tokens. */
  get tokens(): AdminTokenSet {
    return this.#tokens;
  }

  /** True when no token is configured (every request is let in). */
  get isOpen(): boolean {
    return this.#tokens.size === 0;
  }

  /** Swaps the token set; requests already authenticated keep their identity. */
  replace(tokens: AdminTokenSet): void {
    this.#tokens = tokens;
  }

  /** Installs the check as an `onRequest` hook (after the CORS policy, so a 401 to an allowed page is readable). */
  install(app: FastifyInstance): void {
    app.decorateRequest('adminIdentity', null);
    app.addHook('onRequest', async (request, reply) => {
      const tokens = this.#tokens;
      if (tokens.size === 0 || request.method === 'OPTIONS') return;
      const presented = presentedToken(request);
      const identity = presented === null ? null : tokens.identify(presented);
      if (identity === null) {
        reply.header('WWW-Authenticate', 'Bearer realm="sluice-admin"');
        throw HttpError.unauthorized();
      }
      request.adminIdentity = identity;
      const action = WRITE_ACTIONS[request.method];
      if (action !== undefined && identity.role !== 'admin') throw HttpError.forbidden(identity.name, action);
    });
  }
}
