/**
 * The Admin API server: a Fastify app, Kong-compatible (see `crud-endpoints.ts` for the entity
 * endpoints, `node-endpoints.ts` for `/` and `/status`, `plugin-endpoints.ts` for the plugin ones,
 * `schema-endpoints.ts` for `/schemas/*`, `tag-endpoints.ts` for `/tags` and `endpoint-index.ts`
 * for `/endpoints`).
 *
 * Cross-cutting behaviour, as Kong: unknown paths answer 404 `{"message":"Not found"}`, unknown
 * methods 405, a trailing slash is tolerated, bodies are JSON or forms (else 415) up to
 * `bodyLimitBytes` (else 413), and errors use Kong's bodies. Every response carries
 * `Server: sluice/<version>`.
 *
 * Access: open, or by token with roles (`admin-auth.ts`); every write leaves an audit line
 * (`audit-log.ts`). `/config` is the whole configuration as a declarative file (`config-endpoints.ts`).
 *
 * Browsers: no cross-origin access unless the origin is in `allowedOrigins`, and cross-origin
 * writes from other origins are refused with 403 (`cors-policy.ts`).
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyPluginAsync, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { DATABASE_RETRY_AFTER_SECONDS, DatabaseUnavailableError, HttpError, KongDaoError } from '../errors.js';
import type { StaleEntitySource, Store } from '../store/index.js';
import { ConfigOperations, type OperationsClock } from './config-operations.js';
import { DeclarativeConfigService } from '../declarative/index.js';
import { AdminAuthenticator } from './admin-auth.js';
import { installAuditLog } from './audit-log.js';
import { registerConfigEndpoints } from './config-endpoints.js';
import { CorsPolicy } from './cors-policy.js';
import { registerCrudEndpoints } from './crud-endpoints.js';
import { installEndpointIndex } from './endpoint-index.js';
import { type NodeInfo, registerNodeEndpoints } from './node-endpoints.js';
import { registerPluginEndpoints } from './plugin-endpoints.js';
import { registerSchemaEndpoints } from './schema-endpoints.js';
import { installBodyParsers } from './request-body.js';
import { StaleReads } from './stale-reads.js';
import { registerTagEndpoints } from './tag-endpoints.js';

/** Default largest request body accepted, in bytes (10 MiB). */
export const DEFAULT_ADMIN_BODY_LIMIT_BYTES = 10 * 1024 * 1024;

/** Default largest `POST /config` body, in bytes (64 MiB: an export of 100,000 routes fits). */
export const DEFAULT_CONFIG_BODY_LIMIT_BYTES = 64 * 1024 * 1024;

/** Bounds of the Admin API. */
export interface AdminApiLimits {
  /** Largest request body in bytes; larger bodies answer 413 (default 10 MiB). */
  bodyLimitBytes: number;
  /** Largest `POST /config` body (a whole declarative file) in bytes (default 64 MiB). */
  configBodyLimitBytes: number;
  /** Longest URL parameter (entity key) in characters (default 1024). */
  maxParamLength: number;
}

/** Default {@link AdminApiLimits}. */
export const DEFAULT_ADMIN_API_LIMITS: AdminApiLimits = {
  bodyLimitBytes: DEFAULT_ADMIN_BODY_LIMIT_BYTES,
  configBodyLimitBytes: DEFAULT_CONFIG_BODY_LIMIT_BYTES,
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
  /**
   * Who may call the Admin API (`admin-auth.ts`): without it, or with no token in it, the Admin API
   * is open. Keep a reference to swap its tokens (`replace`) while serving.
   */
  auth?: AdminAuthenticator;
  /** TLS for the Admin API (`--admin-cert`, `--admin-cert-key`): PEM certificate chain and key. Default plain HTTP. */
  tls?: AdminTls;
  /**
   * The replica's in-memory config: entity GETs are answered from it, marked stale, while the
   * database is unreachable (`stale-reads.ts`); without it they answer 503. `/status` reports its
   * head instead of reading the database.
   */
  memory?: StaleEntitySource;
  /** Told of every response (the metrics count them). */
  observer?: AdminRequestObserver;
}

/** The Admin API's certificate and key, PEM. */
export interface AdminTls {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

/** One answered Admin API request, as {@link AdminRequestObserver} sees it. */
export interface AdminRequestOutcome {
  method: string;
  /** The route's path pattern (`/services/:service`), or `null` when no route matched (404). */
  route: string | null;
  status: number;
  durationMs: number;
  /** Whether an entity read was answered from memory. */
  isStale: boolean;
}

/** Receives each answered request. */
export type AdminRequestObserver = (outcome: AdminRequestOutcome) => void;

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
  const app = Fastify({
    ...(options.tls ? { https: { cert: options.tls.cert, key: options.tls.key } } : {}),
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
  }) as unknown as FastifyInstance;
  const ops = new ConfigOperations(options.store, options.clock);
  const cors = new CorsPolicy(options.allowedOrigins);
  const auth = options.auth ?? new AdminAuthenticator();
  const reads = new StaleReads(options.store, options.memory ?? null);

  installBodyParsers(app);

  app.addHook('onRequest', async (_request, reply) => {
    reply.header('Server', `sluice/${version}`);
  });
  cors.install(app);
  auth.install(app);
  installAuditLog(app, options.logger);
  reads.install(app);
  const observer = options.observer;
  app.addHook('onResponse', async (request, reply) => {
    // The route's pattern, not the URL: a URL may carry a secret (`/key-auths/<key>`).
    const route = request.routeOptions.url ?? null;
    request.log.debug({ method: request.method, route, status: reply.statusCode, ms: reply.elapsedTime }, 'admin request');
    observer?.({ method: request.method, route, status: reply.statusCode, durationMs: reply.elapsedTime, isStale: reads.isStale(request) });
  });

  app.setErrorHandler(async (err, request, reply) => {
    const { status, body } = toHttpResponse(err, request.routeOptions.bodyLimit ?? limits.bodyLimitBytes);
    if (err instanceof DatabaseUnavailableError) {
      // Expected during an outage (one line per request would flood the log at error level).
      const route = request.routeOptions.url ?? null;
      request.log.warn({ fault: err.fault, cause: err.cause instanceof Error ? err.cause.message : undefined, method: request.method, route }, 'database unavailable');
      reply.header('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
    } else if (status >= 500) request.log.error({ err }, 'admin request failed');
    reply.code(status);
    return body === null ? reply.send() : reply.send(body);
  });
  app.setNotFoundHandler(async (_request, reply) => reply.code(404).send({ message: 'Not found' }));

  installEndpointIndex(app);
  registerNodeEndpoints(app, options.store, { version, ...options.nodeInfo }, options.memory);
  registerCrudEndpoints(app, reads, ops);
  registerPluginEndpoints(app);
  registerSchemaEndpoints(app);
  registerConfigEndpoints(app, new DeclarativeConfigService(options.store, options.clock), limits.configBodyLimitBytes);
  registerTagEndpoints(app, options.store, () => ops.nowSeconds());
  for (const extension of options.extensions ?? []) void app.register(extension);
  return app;
}
