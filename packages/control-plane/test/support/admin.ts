/** Builds an Admin API over a real store for `inject()` tests. */
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { type AdminApiOptions, buildAdminApi } from '../../src/admin/index.js';
import type { Store } from '../../src/store/index.js';

/** A silent logger for tests. */
export const silentLogger = pino({ level: 'silent' });

/** An Admin API app plus JSON helpers. */
export interface TestAdmin {
  app: FastifyInstance;
  request(options: InjectOptions): Promise<LightMyRequestResponse>;
  /** Sends `body` as JSON. */
  json(method: InjectOptions['method'], url: string, body?: unknown): Promise<LightMyRequestResponse>;
}

export async function buildTestAdmin(store: Store, options: Partial<AdminApiOptions> = {}): Promise<TestAdmin> {
  const app = buildAdminApi({ store, logger: silentLogger, ...options });
  await app.ready();
  return {
    app,
    request: (o) => app.inject(o),
    json: (method, url, body) =>
      app.inject({
        method,
        url,
        ...(body === undefined ? {} : { payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      }),
  };
}
