import {
  addDigest,
  ConfigHash,
  ENTITY_KINDS,
  ENTITY_TYPE_BY_KIND,
  EntityInterner,
  hashEquals,
  hashHex,
  ReferenceIndex,
  referencesOf,
  resourceDigest,
  type AnyEntity,
  type EntityKind,
  type ResourceBatchMessage,
} from '@sluice/protocol';
import { AckError, ConfigRejectedError, ResourceErrorCode } from '../errors.js';
import { runSteps, type Steps } from '../steps.js';
import { checkReferences, checkResource, referenceView, ResourceErrorList, type CheckedEntity } from './entity-checks.js';
import { ImmutableMap } from './immutable-map.js';
import { defaultPluginRuntime } from './plugin-runtime.js';
import type { PluginRuntime } from '../plugins/plugin-factory.js';
import { buildProjections, type ProjectionFailure } from './projections.js';
import { ConfigOrigin, resourceKey, RuntimeConfig, type ConfigResource, type EntityMaps } from './runtime-config.js';

/** A config state a push announces: the epoch, version and hash the result must have. */
export interface ConfigTarget {
  readonly epoch: string;
  readonly version: number;
  readonly hash: Uint8Array;
}

/** What an apply needs besides the batch. */
export interface ApplyOptions {
  /** The config served now, for the monotonic rule (never lower the version within an epoch). */
  readonly current?: RuntimeConfig | null;
  /** Where the new config comes from (default `control_plane`). */
  readonly source?: ConfigOrigin;
  /** The clock, in ms since the Unix epoch (default `Date.now`). */
  readonly now?: () => number;
  /**
   * True when every entity already passed Kong's schema rules in this build (a cache file this
   * build wrote, checksum verified; the primary process forwarding what it applied to its proxy
   * workers): the per-entity schema validation is skipped. Default false.
   */
  readonly isSchemaChecked?: boolean;
  /**
   * The plugins this data plane runs and their shared services (default: the current config's,
   * else every bundled plugin, `defaultPluginRuntime()`). A config naming a plugin it lacks is
   * refused (`SLUICE_DP_ENTITY_PLUGIN_UNAVAILABLE`). A delta keeps the runtime of the config it
   * applies to.
   */
  readonly plugins?: PluginRuntime;
}

/** The outcome of an apply: a new config to swap in, or the refusal to NACK (nothing changed). */
export type ApplyResult = { readonly ok: true; readonly config: RuntimeConfig } | { readonly ok: false; readonly error: ConfigRejectedError };

/** The Ack error for a list of entity errors: undecodable wins over invalid, invalid over dangling. */
export function ackErrorFor(errors: ResourceErrorList): AckError {
  if (errors.has(ResourceErrorCode.DECODE)) return AckError.ERROR_DECODE;
  if (errors.items.every((e) => e.code === ResourceErrorCode.DANGLING_REF)) return AckError.ERROR_DANGLING_REF;
  return AckError.ERROR_INVALID;
}

/** Builds a refusal. */
export function reject(ackError: AckError, message: string, rejectedVersion: number, errors?: ResourceErrorList, cause?: unknown): ApplyResult {
  return { ok: false, error: new ConfigRejectedError(ackError, message, { rejectedVersion, resourceErrors: errors?.items ?? [], cause }) };
}

/** The refusal for a projection that could not be built or changed (`ERROR_INVALID`, one per-entity error naming the entity when it can). */
export function projectionRefusal(name: string, failure: ProjectionFailure, cause: unknown, version: number, errors: ResourceErrorList): ApplyResult {
  errors.add(ENTITY_TYPE_BY_KIND[failure.kind], failure.kind, failure.id, failure.code, failure.message);
  return reject(AckError.ERROR_INVALID, `${name} refused the config: ${failure.message}`, version, errors, cause);
}

/**
 * Validates a whole config and builds it: the data-plane half of a snapshot. All-or-nothing:
 * every resource is decoded and checked against Kong's schema, duplicates are refused, every
 * plugin instance must be of a loaded plugin (`loadedPlugins`), every reference must point at an entity of the snapshot (protocol's `checkConsistency`), the hash over
 * the exact payload bytes must equal `target.hash`, and every projection (the router) must build.
 * A snapshot that would lower the version within the current epoch is refused
 * (`ERROR_BASE_MISMATCH`, the monotonic rule). O(config).
 */
export function applySnapshot(batch: ResourceBatchMessage, target: ConfigTarget, options: ApplyOptions = {}): ApplyResult {
  return runSteps(snapshotSteps(batch, target, options));
}

/**
 * {@link applySnapshot} as pausable {@link Steps} (one step per entity checked and counted, per
 * route compiled, per host bucket built, per 256 map entries), for {@link runStepsSliced}: a
 * serving data plane keeps proxying on its current config while a large snapshot is checked and built.
 */
export function* snapshotSteps(batch: ResourceBatchMessage, target: ConfigTarget, options: ApplyOptions = {}): Steps<ApplyResult> {
  const version = target.version;
  const current = options.current ?? null;
  if (!target.epoch) return reject(AckError.ERROR_INVALID, 'snapshot without an epoch', version);
  if (current && current.epoch === target.epoch && version < current.version) {
    return reject(AckError.ERROR_BASE_MISMATCH, `snapshot version ${version} is older than the applied version ${current.version} of epoch ${current.epoch}`, version);
  }
  if ((batch.removals?.length ?? 0) > 0) return reject(AckError.ERROR_INVALID, 'a snapshot carries upserts only', version);

  const errors = new ResourceErrorList();
  let hashSum = 0n;
  const resources = new Map<string, ConfigResource>();
  const byKind = Object.fromEntries(ENTITY_KINDS.map((kind) => [kind, new Map<string, AnyEntity>()])) as Record<EntityKind, Map<string, AnyEntity>>;
  const upserts: CheckedEntity[] = [];
  const shared = new EntityInterner();
  for (const resource of batch.upserts ?? []) {
    const checked = checkResource(resource, errors, options.isSchemaChecked === true, shared);
    if (!checked) continue;
    const key = resourceKey(checked.kind, checked.id);
    if (resources.has(key)) {
      errors.add(checked.type, checked.kind, checked.id, ResourceErrorCode.DUPLICATE, 'entity appears twice in the snapshot');
      continue;
    }
    resources.set(key, { type: checked.type, id: checked.id, version: checked.version, payload: checked.payload });
    hashSum = addDigest(hashSum, resourceDigest(checked.kind, checked.id, checked.payload));
    byKind[checked.kind].set(checked.id, checked.entity);
    upserts.push(checked);
    yield;
  }
  if (errors.count > 0) return reject(ackErrorFor(errors), errors.summary(), version, errors);

  const counts = new Map<string, number>();
  for (const { kind, entity } of upserts) {
    for (const ref of referencesOf(kind, entity)) {
      const key = resourceKey(ref.reference, ref.id);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  const view = referenceView({
    hasKey: (key) => resources.has(key),
    referrerCount: (kind, id) => counts.get(resourceKey(kind, id)) ?? 0,
    entitiesOf: (kind) => byKind[kind].values(),
  });
  if (!checkReferences({ upserts, removals: [] }, view, errors)) return reject(AckError.ERROR_DANGLING_REF, errors.summary(), version, errors);

  const hash = new ConfigHash(hashSum);
  if (!hashEquals(hash.bytes(), target.hash)) {
    return reject(AckError.ERROR_HASH_MISMATCH, `snapshot hashes to ${hash.hex()}, announced ${hashHex(target.hash)}`, version);
  }

  const entities: Record<string, ImmutableMap<AnyEntity>> = {};
  for (const kind of ENTITY_KINDS) entities[kind] = yield* ImmutableMap.fromSteps(byKind[kind]);
  const plugins = options.plugins ?? current?.plugins.runtime ?? defaultPluginRuntime();
  const built = yield* buildProjections(entities as EntityMaps, { plugins });
  if (!built.ok) return projectionRefusal(built.name, built.failure, built.cause, version, errors);
  const config = new RuntimeConfig({
    epoch: target.epoch,
    version,
    hashSum,
    resources: yield* ImmutableMap.fromSteps(resources),
    entities: entities as EntityMaps,
    references: new ReferenceIndex(yield* ImmutableMap.fromSteps(counts)),
    projections: built.values,
    source: options.source ?? ConfigOrigin.CONTROL_PLANE,
    appliedAtMs: (options.now ?? Date.now)(),
  });
  return { ok: true, config };
}
