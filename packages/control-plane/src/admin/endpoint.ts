/**
 * Registers one Admin API path the way Kong serves it: the given methods, HEAD wherever GET
 * exists, OPTIONS answering 204 with the allowed methods (and the preflight headers; an allowed
 * origin's are added by `cors-policy.ts`), and 405
 * `{"message":"Method not allowed"}` for every other method. Plugins (e.g. `/clustering/*`) use it
 * too, so every path behaves alike.
 *
 * A write handler runs with its request's cancellation (`runCancellable`): when the client goes
 * away before the answer is sent, the store rolls the write back instead of committing it later.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from '../errors.js';
import { runCancellable } from '../store/index.js';

/** The request headers a preflight allows when the browser names none: a body's type and the Admin API tokens. */
export const DEFAULT_ALLOWED_HEADERS = 'Content-Type, Authorization, Kong-Admin-Token';

/** Methods an endpoint may implement; HEAD and OPTIONS are derived. */
export const ENDPOINT_METHODS = ['DELETE', 'GET', 'PATCH', 'POST', 'PUT'] as const;
export type EndpointMethod = (typeof ENDPOINT_METHODS)[number];

/** A handler: returns the body to send, or sends through `reply` itself. */
export type EndpointHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** Per-method route options an endpoint may set (a larger body limit for `POST /config`). */
export interface EndpointRouteOptions {
  /** Largest request body in bytes, instead of the app's. */
  readonly bodyLimit?: number;
}

/** Registers `path` with `handlers`; see the module comment. */
export function registerEndpoint(
  app: FastifyInstance,
  path: string,
  handlers: Partial<Record<EndpointMethod, EndpointHandler>>,
  options: Partial<Record<EndpointMethod, EndpointRouteOptions>> = {},
): void {
  const implemented = ENDPOINT_METHODS.filter((m) => handlers[m] !== undefined);
  const allowed = [...implemented, ...(implemented.includes('GET') ? ['HEAD'] : []), 'OPTIONS'].sort().join(', ');
  for (const method of implemented) {
    const handler = handlers[method] as EndpointHandler;
    app.route({ method, url: path, handler: method === 'GET' ? handler : (request, reply) => runCancellable(cancellationOf(reply), () => handler(request, reply)), ...options[method] });
  }
  app.route({
    method: 'OPTIONS',
    url: path,
    handler: async (_request, reply) => {
      reply.code(204).header('Allow', allowed).header('Access-Control-Allow-Methods', allowed);
      // The CORS policy may have echoed the headers a preflight asked for.
      if (!reply.hasHeader('Access-Control-Allow-Headers')) reply.header('Access-Control-Allow-Headers', DEFAULT_ALLOWED_HEADERS);
      reply.send();
    },
  });
  const others = ENDPOINT_METHODS.filter((m) => handlers[m] === undefined);
  if (others.length > 0) {
    app.route({
      method: [...others],
      url: path,
      handler: async () => {
        throw HttpError.methodNotAllowed();
      },
    });
  }
}

/** Aborted when the connection closes before the response is complete: the client has gone. */
function cancellationOf(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** Response headers carrying the config version (and its epoch) a write committed. */
export const CONFIG_VERSION_HEADER = 'X-Sluice-Config-Version';
export const CONFIG_EPOCH_HEADER = 'X-Sluice-Config-Epoch';

/**
 * Sends a write's result with the version headers. `body` null sends no body (DELETE 204).
 * `entity` is what the write addressed, for the audit log (default: the kind unknown and the
 * body's `id`).
 */
export function sendWrite(
  reply: FastifyReply,
  status: number,
  written: { version: number; epoch: string },
  body: unknown,
  entity?: { kind: string; id: string | null },
): FastifyReply {
  const id = typeof body === 'object' && body !== null && typeof (body as { id?: unknown }).id === 'string' ? (body as { id: string }).id : null;
  reply.request.auditEntity = entity ?? reply.request.auditEntity ?? { kind: 'unknown', id };
  reply.code(status).header(CONFIG_VERSION_HEADER, String(written.version)).header(CONFIG_EPOCH_HEADER, written.epoch);
  return body === null ? reply.send() : reply.send(body);
}
