import { ConfigHash, configStateMessage, type ConfigStateMessage, type EntityKind, type ResourceBatchMessage, type Route, type Service } from '@sluice/protocol';
import type { ProxyConfig } from '../proxy/proxy-server.js';
import type { Router } from '../router/router.js';
import type { ImmutableMap } from './immutable-map.js';

/** Where the serving config came from, as `/status` reports it in `config_source`. */
export const ConfigOrigin = {
  CACHE: 'cache',
  CONTROL_PLANE: 'control_plane',
  DECLARATIVE: 'declarative',
} as const;
export type ConfigOrigin = (typeof ConfigOrigin)[keyof typeof ConfigOrigin];

/**
 * One entity as it travelled on the stream: its wire type, kind, id, the informational version at
 * which it last changed, and its exact payload bytes (the bytes that are hashed and cached, never
 * re-encoded).
 */
export interface ConfigResource {
  readonly type: number;
  readonly kind: EntityKind;
  readonly id: string;
  readonly version: number;
  readonly payload: Uint8Array;
}

/** The key of a resource in `RuntimeConfig.resources`: `kind/id`, as `ConfigHash` keys it. */
export function resourceKey(kind: EntityKind, id: string): string {
  return kind + '/' + id;
}

/**
 * The parts a RuntimeConfig is made of (its fields, less the hash forms derived from `hashSum`);
 * built only by `applySnapshot` / `applyDelta`.
 */
export type RuntimeConfigParts = Pick<
  RuntimeConfig,
  'epoch' | 'version' | 'hashSum' | 'resources' | 'services' | 'routes' | 'routeCountByService' | 'router' | 'source' | 'appliedAtMs'
>;

/**
 * One complete, validated, immutable config version: what the proxy serves. A request reads one
 * RuntimeConfig reference and is served entirely by it; an apply builds a new one and the data
 * plane swaps a single reference. It is the proxy's `ProxyConfig` (`router`, `services`, `version`).
 *
 * Nothing in it can be mutated: the maps are persistent (`ImmutableMap`), shared structurally with
 * the versions built from it, and the hash is the ConfigHash sum (a bigint) that the next apply
 * updates per changed resource. So a delta costs O(delta), whatever the size of the config.
 */
export class RuntimeConfig implements ProxyConfig {
  /** The control plane's database epoch ("" never: a RuntimeConfig always holds a config). */
  readonly epoch: string;
  /** The config version, monotonic within `epoch`. */
  readonly version: number;
  /** The content hash as ConfigHash's sum (mod 2^256) of every resource's digest. */
  readonly hashSum: bigint;
  /** The hash as 32 bytes. */
  readonly hashBytes: Uint8Array;
  /** The hash as 64 hex characters. */
  readonly hashHex: string;
  /** Every resource by `resourceKey(kind, id)`, with its exact payload bytes. */
  readonly resources: ImmutableMap<ConfigResource>;
  /** Decoded services by id (Kong's JSON shape). */
  readonly services: ImmutableMap<Service>;
  /** Decoded routes by id (Kong's JSON shape). */
  readonly routes: ImmutableMap<Route>;
  /** How many routes reference each service id: lets a delta check a service removal in O(1). */
  readonly routeCountByService: ImmutableMap<number>;
  /** The router built for exactly this config. */
  readonly router: Router;
  /** Where this config came from. */
  readonly source: ConfigOrigin;
  /** When this config was applied, in ms since the Unix epoch. */
  readonly appliedAtMs: number;

  /** Use `applySnapshot` / `applyDelta`: they validate everything before a RuntimeConfig exists. */
  constructor(parts: RuntimeConfigParts) {
    this.epoch = parts.epoch;
    this.version = parts.version;
    this.hashSum = parts.hashSum;
    const hash = new ConfigHash(parts.hashSum);
    this.hashBytes = hash.bytes();
    this.hashHex = hash.hex();
    this.resources = parts.resources;
    this.services = parts.services;
    this.routes = parts.routes;
    this.routeCountByService = parts.routeCountByService;
    this.router = parts.router;
    this.source = parts.source;
    this.appliedAtMs = parts.appliedAtMs;
    Object.freeze(this);
  }

  /** The state as it travels in Hello, Heartbeat and Ack. */
  state(): ConfigStateMessage {
    return configStateMessage(this.epoch, this.version, this.hashBytes);
  }

  /** Every resource as a snapshot batch (upserts only), in a stable order (by key). O(config). */
  toBatch(): ResourceBatchMessage {
    const keys = [...this.resources.keys()].sort();
    return {
      upserts: keys.map((key) => {
        const r = this.resources.get(key)!;
        return { type: r.type, id: r.id, version: r.version, payload: r.payload };
      }),
      removals: [],
    };
  }

  /** The same config marked as coming from another source (e.g. a cached config confirmed by the control plane). */
  withSource(source: ConfigOrigin): RuntimeConfig {
    if (source === this.source) return this;
    return new RuntimeConfig({ ...this, source });
  }
}
