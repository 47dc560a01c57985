import cluster from 'node:cluster';
import { LifecycleError } from '../errors.js';
import type { ListenAddress } from '../listen-address.js';
import { silentLogger, type Logger } from '../logger.js';
import { ProxyServer } from '../proxy/proxy-server.js';
import { createPluginEnv, createPluginRuntime } from '../config/plugin-runtime.js';
import { BUNDLED_PLUGIN_FACTORIES } from '../plugins/plugin-factories.js';
import type { PluginFactory } from '../plugins/plugin-factory.js';
import type { ProxyServerOptions } from '../proxy/proxy-server-options.js';
import { ConfigFollower } from './config-follower.js';
import type { ConfigChannelMessage, WorkerControlMessage } from './worker-messages.js';
import { WorkerRateLimitClient } from './worker-rate-limit-client.js';

/** Options of `runProxyWorker`. */
export interface ProxyWorkerOptions {
  /** Where the proxy listens: the address the primary was given (node:cluster shares the port). */
  readonly listen: ListenAddress;
  /** Proxy tuning (limits, timeouts, trusted IPs, access log). */
  readonly proxy?: ProxyServerOptions;
  readonly logger?: Logger;
  /** The plugins this worker runs: the primary's set (`DataPlaneOptions.pluginFactories`; default every bundled plugin). */
  readonly pluginFactories?: ReadonlyMap<string, PluginFactory>;
}

/**
 * The body of a proxy worker process (`--workers N`): serves the proxy on the shared port with the
 * config the primary sends over IPC, and drains and exits when the primary says stop (or on
 * SIGTERM/SIGINT). Returns once listening.
 */
export async function runProxyWorker(options: ProxyWorkerOptions): Promise<void> {
  if (!cluster.isWorker || !process.send) throw new LifecycleError('runProxyWorker runs in a node:cluster worker');
  const logger = options.logger ?? silentLogger;
  const port = { send: (m: ConfigChannelMessage) => process.send!(m) };
  // Counted in the primary, so every worker of this data plane shares the counts.
  const rateLimits = new WorkerRateLimitClient({
    send: (m) => process.send!(m),
    get connected() {
      return process.connected;
    },
  });
  const plugins = createPluginRuntime(options.pluginFactories ?? BUNDLED_PLUGIN_FACTORIES, createPluginEnv({ logger, rateLimitCounters: rateLimits }));
  const follower = new ConfigFollower(port, logger, { plugins });
  const proxy = new ProxyServer({ ...options.proxy, logger: options.proxy?.logger ?? logger, getConfig: () => follower.current });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void proxy.close().finally(() => process.exit(0));
  };
  process.on('message', (message: unknown) => {
    if (follower.handle(message) || rateLimits.handle(message)) return;
    const control = message as WorkerControlMessage | null;
    if (control?.type === 'sluice:worker-stop') stop();
    else if (control?.type === 'sluice:traffic-stats-request' && process.connected) {
      process.send!({ type: 'sluice:traffic-stats', id: control.id, snapshot: proxy.trafficSnapshot() } satisfies WorkerControlMessage);
    }
  });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Listen only once the primary's config is here (or it said it has none), so a worker never
  // answers 503 while the primary is ready.
  await follower.requestInitial();
  const address = await proxy.listen(options.listen.host, options.listen.port);
  process.send({ type: 'sluice:worker-listening', host: address.host, port: address.port } satisfies WorkerControlMessage);
}
