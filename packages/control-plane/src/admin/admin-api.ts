/**
 * The Admin API server: a Fastify app, Kong-compatible (see `crud-endpoints.ts` for the entity
 * endpoints, `node-endpoints.ts` for `/` and `/status`, `schema-endpoints.ts` for `/schemas/*`,
 * `tag-endpoints.ts` for `/tags` and `endpoint-index.ts` for `/endpoints`).
 *
 * Cross-cutting behaviour, as Kong: unknown paths answer 404 `{"message":"Not found"}`, unknown
 * methods 405, a trailing slash is tolerated, bodies are JSON or forms (else 415) up to
 * `bodyLimitBytes` (else 413), and errors use Kong's bodies. Every response carries
 * `Server: sluice/<version>`.
 *
 * Browsers: no cross-origin access unless the origin is in `allowedOrigins`, and cross-origin
 * writes from other origins are refused with 403 (`cors-policy.ts`).
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyPluginAsync, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { HttpError, KongDaoError } from '../errors.js';
import type { Store } from '../store/index.js';
import { ConfigOperations, type OperationsClock } from './config-operations.js';
import { CorsPolicy } from './cors-policy.js';
import { registerCrudEndpoints } from './crud-endpoints.js';
import { installEndpointIndex } from './endpoint-index.js';
import { type NodeInfo, registerNodeEndpoints } from './node-endpoints.js';
import { installBodyParsers } from './request-body.js';
import { registerSchemaEndpoints } from './schema-endpoints.js';
import { registerTagEndpoints } from './tag-endpoints.js';

/** Default largest request body accepted, in bytes (10 MiB). */
export const DEFAULT_ADMIN_BODY_LIMIT_BYTES = 10 * 1024 * 1024;

/** Bounds of the Admin API. */
export interface AdminApiLimits {
  /** Largest request body in bytes; larger bodies answer 413 (default 10 MiB). */
  bodyLimitBytes: number;
  /** Longest URL parameter (entity key) in characters (default 1024). */
  maxParamLength: number;
}

/** Default {@link AdminApiLimits}. */
export const DEFAULT_ADMIN_API_LIMITS: AdminApiLimits = {
  bodyLimitBytes: DEFAULT_ADMIN_BODY_LIMIT_BYTES,
  maxParamLength: 1024,
};

/** Options of {@link buildAdminApi}. */
export interface AdminApiOptions {
  store: Store;
  logger: Logger;
  limits?: Partial<AdminApiLimits>;
  /**
   * Admin API extensions: more endpoints, registered inside the app after the built-in ones (e.g.
   * `/clustering/*`). Fastify calls these "plugins"; Sluice says extensions, since plugins are the
   * gateway's (Kong's) plugins. They get the same error handling, 404/405 behaviour and body
   * parsers; use `registerEndpoint`.
   */
  extensions?: FastifyPluginAsync[];
  /** What `GET /` reports about this node. */
  nodeInfo?: Partial<NodeInfo>;
  /** Time and id sources (tests). */
  clock?: OperationsClock;
  /**
   * Origins (`scheme://host[:port]`) whose web pages may call the Admin API with credentials
   * (Kong's `admin_gui_origin`, flag `--admin-gui-origin`). Default none: no CORS headers, and
   * cross-origin writes answer 403. An invalid origin throws `ConfigurationError`.
   */
  allowedOrigins?: readonly string[];
}

function isFastifyError(err: unknown): err is FastifyError {
  return typeof err === 'object' && err !== null && 'code' in err && typeof (err as FastifyError).code === 'string';
}

/** Maps any thrown error to Kong's status and body. */
function toHttpResponse(err: unknown, bodyLimitBytes: number): { status: number; body: unknown } {
  if (err instanceof KongDaoError) return { status: err.statusCode, body: err.toBody() };
  if (err instanceof HttpError) return { status: err.statusCode, body: err.body };
  if (isFastifyError(err)) {
    switch (err.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return toHttpResponse(HttpError.payloadTooLarge(bodyLimitBytes), bodyLimitBytes);
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return toHttpResponse(HttpError.unsupportedMediaType(), bodyLimitBytes);
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
        return toHttpResponse(HttpError.cannotParseJson(err), bodyLimitBytes);
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) return { status, body: { message: err.message } };
  }
  return toHttpResponse(HttpError.unexpected(err), bodyLimitBytes);
}

/** Builds the Admin API app (not listening; call `listen()` or use `inject()`). */
export function buildAdminApi(options: AdminApiOptions): FastifyInstance {
  const limits: AdminApiLimits = { ...DEFAULT_ADMIN_API_LIMITS, ...options.limits };
  const version = options.nodeInfo?.version ?? '0.0.0';
  const app: FastifyInstance = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps the app's default generic parameters.
    loggerInstance: options.logger.child({ component: 'admin-api' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: limits.bodyLimitBytes,
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: limits.maxParamLength },
    exposeHeadRoutes: true,
    // Errors raised before routing (a URL that does not percent-decode to UTF-8, an over-long
    // parameter) get Kong's body shape too, not Fastify's.
    frameworkErrors: (err, _request, reply) => {
      const { status, body } = toHttpResponse(err, limits.bodyLimitBytes);
      void (reply as FastifyReply).code(status).header('Server', `sluice/${version}`).send(body);
    },
  });
  const ops = new ConfigOperations(options.store, options.clock);
  const cors = new CorsPolicy(options.allowedOrigins);

  installBodyParsers(app);

  app.addHook('onRequest', async (_request, reply) => {
    reply.header('Server', `sluice/${version}`);
  });
  cors.install(app);
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime }, 'admin request');
  });

  app.setErrorHandler(async (err, request, reply) => {
    const { status, body } = toHttpResponse(err, limits.bodyLimitBytes);
    if (status >= 500) request.log.error({ err }, 'admin request failed');
    reply.code(status);
    return body === null ? reply.send() : reply.send(body);
  });
  app.setNotFoundHandler(async (_request, reply) => reply.code(404).send({ message: 'Not found' }));

  installEndpointIndex(app);
  registerNodeEndpoints(app, options.store, { version, ...options.nodeInfo });
  registerCrudEndpoints(app, ops);
  registerSchemaEndpoints(app, ops);
  registerTagEndpoints(app, options.store, () => ops.nowSeconds());
  for (const extension of options.extensions ?? []) void app.register(extension);
  return app;
}
