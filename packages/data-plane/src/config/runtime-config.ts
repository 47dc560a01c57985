import {
  ConfigHash,
  configStateMessage,
  entityKey,
  type ConfigStateMessage,
  type EntityKind,
  type EntityTypes,
  type ReferenceIndex,
  type ResourceBatchMessage,
  type Route,
  type Service,
} from '@sluice/protocol';
import type { PluginChain } from '../plugins/plugin-chain.js';
import type { ProxyConfig } from '../proxy/proxy-server.js';
import type { ImmutableMap } from './immutable-map.js';
import { projectionValuesOf, type ProjectionValues } from './projections.js';

/** Where the serving config came from, as `/status` reports it in `config_source`. */
export const ConfigOrigin = {
  CACHE: 'cache',
  CONTROL_PLANE: 'control_plane',
  DECLARATIVE: 'declarative',
} as const;
export type ConfigOrigin = (typeof ConfigOrigin)[keyof typeof ConfigOrigin];

/**
 * One entity as it travelled on the stream: its wire type (its kind is `kindOfEntityType(type)`,
 * and its key in `RuntimeConfig.resources` says it too), id, the informational version at which it
 * last changed, and its exact payload bytes (the bytes that are hashed and cached, never
 * re-encoded). There is one per entity of a config, so it holds nothing derivable: `id` is the
 * decoded entity's own id string, not a copy.
 */
export interface ConfigResource {
  readonly type: number;
  readonly id: string;
  readonly version: number;
  readonly payload: Uint8Array;
}

/**
 * The key of a resource in `RuntimeConfig.resources`: `kind/id`, as `ConfigHash` keys it and as the
 * reference index keys counts (protocol's `entityKey`, a flat string).
 */
export function resourceKey(kind: string, id: string): string {
  return entityKey(kind, id);
}

/** The decoded entities of a config, one persistent map by id per kind (Kong's JSON shape). */
export type EntityMaps = { readonly [K in EntityKind]: ImmutableMap<EntityTypes[K]> };

/**
 * The parts a RuntimeConfig is made of (its fields, less the hash forms derived from `hashSum`);
 * built only by `applySnapshot` / `applyDelta`.
 */
export interface RuntimeConfigParts {
  readonly epoch: string;
  readonly version: number;
  readonly hashSum: bigint;
  readonly resources: ImmutableMap<ConfigResource>;
  readonly entities: EntityMaps;
  readonly references: ReferenceIndex;
  readonly projections: ProjectionValues;
  readonly source: ConfigOrigin;
  readonly appliedAtMs: number;
}

/**
 * The projections' values are fields of the config, one per entry of `PROJECTIONS`
 * (`config.router`): a class and an interface of one name merge, so a new projection needs no
 * field written here.
 */
export interface RuntimeConfig extends ProjectionValues {}

/**
 * One complete, validated, immutable config version: what the proxy serves. A request reads one
 * RuntimeConfig reference and is served entirely by it; an apply builds a new one and the data
 * plane swaps a single reference. It is the proxy's `ProxyConfig` (`router`, `services`, `version`).
 *
 * It holds the resources as they travelled, the decoded entities by kind, the reference index
 * (how many entities reference each one), and the projections (`projections.ts`: the router, and
 * whatever else the proxy reads per request), each a field named after its projection.
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
  /** Decoded entities by kind, each by id (Kong's JSON shape). */
  readonly entities: EntityMaps;
  /** How many entities reference each entity: lets a delta check a removal in O(1). */
  readonly references: ReferenceIndex;
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
    this.entities = Object.freeze(parts.entities); // built for this config (or already frozen by the one it comes from)
    this.references = parts.references;
    this.source = parts.source;
    this.appliedAtMs = parts.appliedAtMs;
    Object.assign(this, projectionValuesOf(parts.projections));
    Object.freeze(this);
  }

  /** Decoded services by id: `entities.services`, as the proxy reads them. */
  get services(): ImmutableMap<Service> {
    return this.entities.services;
  }

  /** Decoded routes by id: `entities.routes`. */
  get routes(): ImmutableMap<Route> {
    return this.entities.routes;
  }

  /** The plugin chain of each route with plugins: `plugins.chains`, as the proxy reads them. */
  get chains(): ImmutableMap<PluginChain> {
    return this.plugins.chains;
  }

  /** What a request matching no route runs: `plugins.globalChain`. */
  get globalChain(): PluginChain {
    return this.plugins.globalChain;
  }

  /** The parts this config is made of, e.g. to build the same config with another source. */
  parts(): RuntimeConfigParts {
    return {
      epoch: this.epoch,
      version: this.version,
      hashSum: this.hashSum,
      resources: this.resources,
      entities: this.entities,
      references: this.references,
      projections: projectionValuesOf(this),
      source: this.source,
      appliedAtMs: this.appliedAtMs,
    };
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
    return new RuntimeConfig({ ...this.parts(), source });
  }
}
