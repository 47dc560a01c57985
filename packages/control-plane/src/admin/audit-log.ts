/**
 * The Admin API's audit log: one line per write request (POST, PUT, PATCH, DELETE), refused ones
 * included, through the logger named `admin-audit` with `audit: true`:
 *
 * ```json
 * {"audit":true,"token":"ci","role":"admin","method":"POST","path":"/services","entity":{"kind":"services","id":"…"},"version":12,"status":201,"ms":4.2,"msg":"admin write"}
 * ```
 *
 * `token` is the token's name (null when the Admin API is open or the token was refused), never
 * the token; `path` is the route's pattern (`/services/:service`, null when no route matched), not
 * the URL, since a URL may carry a secret (`DELETE /keyauth_credentials/<key>`); `entity` is what the write addressed (from the
 * handler, see `sendWrite`), `version` the config version it committed (null when it committed
 * none). No request body is logged, so no secret in one (a key, a password) reaches the log.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { CONFIG_VERSION_HEADER } from './endpoint.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The entity a write addressed, set by the handler for the audit log. */
    auditEntity: { kind: string; id: string | null } | null;
  }
}

/** The logger name audit lines carry (`component`). */
export const AUDIT_LOGGER_NAME = 'admin-audit';

const WRITE_METHODS: ReadonlySet<string> = new Set(['DELETE', 'PATCH', 'POST', 'PUT']);

/** Installs the audit log as an `onResponse` hook of `app`. */
export function installAuditLog(app: FastifyInstance, logger: Logger): void {
  const audit = logger.child({ component: AUDIT_LOGGER_NAME, audit: true });
  app.decorateRequest('auditEntity', null);
  app.addHook('onResponse', async (request, reply) => {
    if (!WRITE_METHODS.has(request.method)) return;
    const version = reply.getHeader(CONFIG_VERSION_HEADER);
    const identity = request.adminIdentity;
    audit.info(
      {
        token: identity?.name ?? null,
        role: identity?.role ?? null,
        method: request.method,
        path: request.routeOptions.url ?? null,
        entity: request.auditEntity,
        version: version === undefined ? null : Number(version),
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
      },
      'admin write',
    );
  });
}
