/**
 * The control-plane process as a library: opens the store (running migrations), then serves the
 * Admin API. Composable: more servers (the cluster stream) and Admin API plugins are added through
 * the options, and `start()` returns every listening address.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import { type AdminApiLimits, buildAdminApi } from './admin/index.js';
import { ClosedError } from './errors.js';
import { type Store, openStore } from './store/index.js';

/** Default Admin API address. */
export const DEFAULT_ADMIN_LISTEN = '127.0.0.1:8001';

/** A `host:port` to listen on. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** Options of {@link ControlPlane}. */
export interface ControlPlaneOptions {
  logger: Logger;
  /** Admin API address (default 127.0.0.1:8001; port 0 picks a free port). */
  adminListen?: ListenAddress;
  /** A `postgres://` URL; without it the embedded database in `dataDir` is used. */
  databaseUrl?: string;
  /** Embedded database directory (default `.sluice/cp`). */
  dataDir?: string;
  adminLimits?: Partial<AdminApiLimits>;
  /** Extra Admin API endpoints (e.g. `/clustering/*`), given the started store. */
  adminPlugins?: (store: Store) => FastifyPluginAsync[];
  /** A store to use instead of opening one (the control plane then does not close it). */
  store?: Store;
}

/** The addresses a started control plane listens on. */
export interface ControlPlaneAddresses {
  admin: ListenAddress;
}

/** Parses `host:port` (IPv6 hosts in brackets: `[::1]:8001`). */
export function parseListenAddress(value: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new TypeError(`invalid listen address '${value}': expected host:port`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** Formats an address for logs and URLs. */
export function formatListenAddress(address: ListenAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** This package's version, from its package.json (the same relative path from src/ and dist/). */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** See the module comment. */
export class ControlPlane {
  readonly #options: ControlPlaneOptions;
  #store: Store | null = null;
  #admin: FastifyInstance | null = null;
  #isStopped = false;

  constructor(options: ControlPlaneOptions) {
    this.#options = options;
  }

  /** The store, once started. */
  get store(): Store {
    if (!this.#store) throw new ClosedError('control plane (not started)');
    return this.#store;
  }

  /** Opens the store and starts listening; resolves with the bound addresses. */
  async start(): Promise<ControlPlaneAddresses> {
    const { logger } = this.#options;
    const adminListen = this.#options.adminListen ?? parseListenAddress(DEFAULT_ADMIN_LISTEN);
    const store =
      this.#options.store ?? (await openStore({ databaseUrl: this.#options.databaseUrl, dataDir: this.#options.dataDir, logger: logger.child({ component: 'store' }) }));
    this.#store = store;
    try {
      const head = await store.readHead();
      logger.info({ database: store.kind, epoch: head.epoch, version: head.version }, 'store ready');
      const admin = buildAdminApi({
        store,
        logger,
        limits: this.#options.adminLimits,
        plugins: this.#options.adminPlugins?.(store),
        nodeInfo: {
          version: packageVersion(),
          configuration: {
            admin_listen: [formatListenAddress(adminListen)],
            database: 'postgres',
            embedded_database: store.kind === 'pglite',
          },
        },
      });
      this.#admin = admin;
      await admin.listen({ host: adminListen.host, port: adminListen.port });
      const bound = admin.server.address();
      const admin_ = typeof bound === 'object' && bound !== null ? { host: adminListen.host, port: bound.port } : adminListen;
      return { admin: admin_ };
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Stops accepting requests, lets in-flight ones finish, then closes the store. Idempotent. */
  async stop(): Promise<void> {
    if (this.#isStopped) return;
    this.#isStopped = true;
    const admin = this.#admin;
    this.#admin = null;
    if (admin) await admin.close();
    const store = this.#store;
    if (store && !this.#options.store) await store.close();
  }
}
