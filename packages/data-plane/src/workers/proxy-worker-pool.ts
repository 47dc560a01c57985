import cluster, { type Worker } from 'node:cluster';
import type { RuntimeConfig } from '../config/runtime-config.js';
import { LifecycleError } from '../errors.js';
import type { ListenAddress } from '../listen-address.js';
import type { Logger } from '../logger.js';
import type { RateLimitCounters } from '../plugins/rate-limiting/rate-limit-counters.js';
import { EMPTY_TRAFFIC_SNAPSHOT, mergeTrafficSnapshots, type TrafficSnapshot } from '../proxy/traffic-stats.js';
import { isConfigChannelMessage, snapshotMessage, type ConfigChannelMessage, type WorkerControlMessage } from './worker-messages.js';
import { RateLimitResponder } from './worker-rate-limit-client.js';

/** How long proxy workers may take to start listening, in ms (default 30 s). */
export const WORKER_START_TIMEOUT_MS = 30_000;

/** Most proxy worker restarts per minute (default 10); a worker crashing faster is left down and logged. */
export const MAX_WORKER_RESTARTS_PER_MINUTE = 10;

/**
 * How long a `/metrics` scrape waits for the proxy workers' traffic counts, in ms (default 2 s). A
 * worker that has not answered by then is logged and counted with the counts it sent last.
 */
export const TRAFFIC_STATS_TIMEOUT_MS = 2_000;

/** The window over which worker restarts are counted, in ms (1 minute). */
const RESTART_WINDOW_MS = 60_000;

/** Options of `ProxyWorkerPool`. */
export interface ProxyWorkerPoolOptions {
  /** How many workers to fork (at least 1). */
  readonly count: number;
  /** The script the workers run (default: this process's script, i.e. the CLI); it must call `runProxyWorker` when `cluster.isWorker`. */
  readonly exec?: string;
  /** The serving config, sent to a worker when it starts or asks. */
  readonly getConfig: () => RuntimeConfig | null;
  /** The data plane's rate-limit counters, which every worker counts through (one set per data plane). */
  readonly rateLimits?: RateLimitCounters;
  readonly logger: Logger;
}

/** One scrape's collection of the workers' traffic counts. */
interface TrafficRound {
  readonly id: number;
  answered(worker: Worker): void;
  gone(worker: Worker): void;
}

/**
 * The proxy workers of a data plane (`--workers N`), from the primary's side: forks them, sends
 * each the serving config when it comes online and every change after (`broadcast`), answers
 * their resync requests, decides their rate-limit queries (`rateLimits`: one set of counters for
 * every worker, so `--workers N` never allows N times a limit), restarts a crashed worker (at most {@link MAX_WORKER_RESTARTS_PER_MINUTE}),
 * and merges their traffic counts for `/metrics` (waiting at most {@link TRAFFIC_STATS_TIMEOUT_MS}).
 */
export class ProxyWorkerPool {
  private readonly options: ProxyWorkerPoolOptions;
  private readonly workers = new Set<Worker>();
  private isStopping = false;
  private restarts: number[] = [];
  private listen: ListenAddress | null = null;
  /** Each live worker's last traffic counts, used when it misses a scrape's deadline. */
  private readonly lastTraffic = new Map<Worker, TrafficSnapshot>();
  /** The last counts of exited workers, so the merged counters never go down when one is restarted. */
  private retiredTraffic: TrafficSnapshot = EMPTY_TRAFFIC_SNAPSHOT;
  private trafficRound: TrafficRound | null = null;
  private collecting: Promise<TrafficSnapshot> | null = null;
  private nextTrafficRoundId = 1;

  constructor(options: ProxyWorkerPoolOptions) {
    this.options = options;
  }

  /** Forks the workers; resolves with the address they share once every one listens (within {@link WORKER_START_TIMEOUT_MS}). */
  async start(listen: ListenAddress): Promise<ListenAddress> {
    if (!cluster.isPrimary) throw new LifecycleError('proxy workers can only be forked by the primary process');
    this.listen = listen;
    if (this.options.exec) cluster.setupPrimary({ exec: this.options.exec });
    const addresses = Array.from({ length: this.options.count }, () => this.fork());
    const timeout = new Promise<never>((_, reject) => {
      const t = setTimeout(() => reject(new LifecycleError(`proxy workers did not listen within ${WORKER_START_TIMEOUT_MS} ms`)), WORKER_START_TIMEOUT_MS);
      t.unref();
    });
    const bound = await Promise.race([Promise.all(addresses), timeout]);
    return bound[0];
  }

  private fork(): Promise<ListenAddress> {
    // The CLI reads these to run `runProxyWorker` on that address instead of a DataPlane.
    const worker = cluster.fork({ SLUICE_DP_WORKER: '1', SLUICE_DP_WORKER_LISTEN: `${this.listen!.host}:${this.listen!.port}` });
    this.workers.add(worker);
    const logger = this.options.logger;
    const rateLimits = this.options.rateLimits ? new RateLimitResponder(worker, this.options.rateLimits) : null;
    return new Promise((resolve, reject) => {
      worker.on('message', (message: ConfigChannelMessage | WorkerControlMessage) => {
        if (rateLimits !== null && message !== null && typeof message === 'object' && rateLimits.handle(message as WorkerControlMessage)) return;
        if (message?.type === 'sluice:worker-listening') resolve({ host: message.host, port: message.port });
        else if (message?.type === 'sluice:traffic-stats') this.onTraffic(worker, message.id, message.snapshot);
        else if (isConfigChannelMessage(message) && message.type === 'sluice:config-resync') {
          const config = this.options.getConfig();
          worker.send(config ? snapshotMessage(config) : { type: 'sluice:config-none' });
        }
      });
      worker.on('exit', (code, signal) => {
        this.workers.delete(worker);
        this.retireTraffic(worker);
        reject(new LifecycleError(`proxy worker exited before listening (code ${code}, signal ${signal})`));
        if (this.isStopping) return;
        const now = Date.now();
        this.restarts = this.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
        if (this.restarts.length >= MAX_WORKER_RESTARTS_PER_MINUTE) {
          logger.error({ code, signal }, 'proxy worker died; too many restarts in the last minute, leaving it down');
          return;
        }
        this.restarts.push(now);
        logger.warn({ code, signal }, 'proxy worker died; restarting it');
        this.fork().catch((err: unknown) => logger.error({ err }, 'proxy worker restart failed'));
      });
    });
  }

  /**
   * The workers' traffic counts merged (plus those of exited workers), asked over IPC. Waits at
   * most {@link TRAFFIC_STATS_TIMEOUT_MS}; concurrent scrapes share one round.
   */
  trafficSnapshot(): Promise<TrafficSnapshot> {
    this.collecting ??= this.collectTraffic().finally(() => {
      this.collecting = null;
    });
    return this.collecting;
  }

  private collectTraffic(): Promise<TrafficSnapshot> {
    const id = this.nextTrafficRoundId++;
    const waiting = new Set([...this.workers].filter((worker) => worker.isConnected()));
    return new Promise((resolve) => {
      let isFinished = false;
      const finish = (): void => {
        if (isFinished) return;
        isFinished = true;
        clearTimeout(timer);
        this.trafficRound = null;
        if (waiting.size > 0) {
          this.options.logger.warn({ workers: [...waiting].map((w) => w.process.pid), timeoutMs: TRAFFIC_STATS_TIMEOUT_MS }, 'proxy workers did not send their traffic counts in time; using the last they sent');
        }
        resolve(mergeTrafficSnapshots([this.retiredTraffic, ...this.lastTraffic.values()]));
      };
      const timer = setTimeout(finish, TRAFFIC_STATS_TIMEOUT_MS);
      this.trafficRound = {
        id,
        answered: (worker) => {
          if (waiting.delete(worker) && waiting.size === 0) finish();
        },
        gone: (worker) => {
          if (waiting.delete(worker) && waiting.size === 0) finish();
        },
      };
      for (const worker of waiting) worker.send({ type: 'sluice:traffic-stats-request', id } satisfies WorkerControlMessage);
      if (waiting.size === 0) finish();
    });
  }

  private onTraffic(worker: Worker, id: number, snapshot: TrafficSnapshot): void {
    if (!this.workers.has(worker)) return;
    this.lastTraffic.set(worker, snapshot);
    if (this.trafficRound?.id === id) this.trafficRound.answered(worker);
  }

  /** Keeps an exited worker's last counts (its gauges dropped): the totals stay monotonic. */
  private retireTraffic(worker: Worker): void {
    const last = this.lastTraffic.get(worker);
    this.lastTraffic.delete(worker);
    if (last !== undefined) this.retiredTraffic = mergeTrafficSnapshots([this.retiredTraffic, { ...last, inFlight: 0, tunnels: 0, upstreams: [] }]);
    this.trafficRound?.gone(worker);
  }

  /** Sends a config message to every connected worker. */
  broadcast(message: ConfigChannelMessage): void {
    for (const worker of this.workers) if (worker.isConnected()) worker.send(message);
  }

  /** Asks every worker to drain and exit (kills one that is disconnected); resolves once all have exited. */
  async stop(): Promise<void> {
    this.isStopping = true;
    await Promise.all(
      [...this.workers].map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            worker.once('exit', () => resolve());
            if (worker.isConnected()) worker.send({ type: 'sluice:worker-stop' } satisfies WorkerControlMessage);
            else worker.kill();
          }),
      ),
    );
  }
}
