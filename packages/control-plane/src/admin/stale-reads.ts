/**
 * Entity reads of the Admin API, served from the replica's in-memory config when the database
 * cannot answer. A GET (or HEAD) reads the database while it is reachable; when the database is
 * known unreachable, or the read fails with `database unavailable`, the same read is answered from
 * memory and the response is marked `X-Sluice-Stale: true`, with `X-Sluice-Config-Version` and
 * `X-Sluice-Config-Epoch` naming the version memory holds (it may be behind the database: writes
 * committed by other replicas while this one was cut off). Writes never read from memory: their
 * lookups go to the database, and fail with 503 when it is away, like the write itself.
 */
import type { EntityKind, EntityOf } from '@sluice/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DatabaseUnavailableError } from '../errors.js';
import type { EntityKey, Page, PageQuery, ReadOptions, Store } from '../store/index.js';
import type { StaleEntitySource } from '../store/entity-read-source.js';
import { CONFIG_EPOCH_HEADER, CONFIG_VERSION_HEADER } from './endpoint.js';

/** The response header marking a read answered from memory. */
export const STALE_HEADER = 'X-Sluice-Stale';

/** See the module comment. */
export class StaleReads {
  readonly #store: Store;
  readonly #memory: StaleEntitySource | null;
  /** Requests answered from memory, with the head memory held. */
  readonly #stale = new WeakMap<FastifyRequest, { epoch: string; version: number }>();

  constructor(store: Store, memory: StaleEntitySource | null) {
    this.#store = store;
    this.#memory = memory;
  }

  /** Adds the stale headers to every response answered (even partly) from memory. */
  install(app: FastifyInstance): void {
    app.addHook('onSend', async (request, reply, payload) => {
      const head = this.#stale.get(request);
      if (head) reply.header(STALE_HEADER, 'true').header(CONFIG_VERSION_HEADER, String(head.version)).header(CONFIG_EPOCH_HEADER, head.epoch);
      return payload;
    });
  }

  /** Whether `request` was answered from memory. */
  isStale(request: FastifyRequest): boolean {
    return this.#stale.has(request);
  }

  async #read<T>(request: FastifyRequest, read: (source: { find: Store['find']; page: Store['page'] }) => Promise<T>): Promise<T> {
    const memory = this.#memory;
    const mayBeStale = memory !== null && (request.method === 'GET' || request.method === 'HEAD');
    if (!mayBeStale) return read(this.#store);
    // One request reads one source: once memory answered part of it, memory answers the rest.
    if (this.#store.health.isReachable && !this.#stale.has(request)) {
      try {
        return await read(this.#store);
      } catch (err) {
        if (!(err instanceof DatabaseUnavailableError)) throw err;
      }
    }
    this.#stale.set(request, memory.head());
    return read(memory);
  }

  /** An entity by id or unique field, or `null`. */
  find<K extends EntityKind>(request: FastifyRequest, kind: K, key: EntityKey, options: ReadOptions = {}): Promise<EntityOf<K> | null> {
    return this.#read(request, (source) => source.find(kind, key, options));
  }

  /** A page of entities in id order. */
  page<K extends EntityKind>(request: FastifyRequest, kind: K, query: PageQuery): Promise<Page<EntityOf<K>>> {
    return this.#read(request, (source) => source.page(kind, query));
  }
}
