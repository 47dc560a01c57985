import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { registerEndpoint } from '../admin/index.js';
import type { ControlPlaneMetrics } from './control-plane-metrics.js';

/** The Admin API extension serving `GET /metrics` (Prometheus text format). */
export function metricsEndpoint(metrics: ControlPlaneMetrics): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    registerEndpoint(app, '/metrics', {
      GET: async (_request, reply) => reply.header('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics()),
    });
  };
}
