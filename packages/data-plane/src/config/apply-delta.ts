import {
  addDigest,
  ConfigHash,
  EntityInterner,
  subtractDigest,
  hashEquals,
  resourceDigest,
  hashHex,
  kindOfEntityType,
  type AnyEntity,
  type EntityKind,
  type ResourceBatchMessage,
} from '@sluice/protocol';
import { AckError, ResourceErrorCode } from '../errors.js';
import { runSteps, type Steps } from '../steps.js';
import { ackErrorFor, projectionRefusal, reject, type ApplyOptions, type ApplyResult } from './apply-snapshot.js';
import { checkReferences, checkResource, referenceView, ResourceErrorList, type CheckedEntity } from './entity-checks.js';
import type { ImmutableMap } from './immutable-map.js';
import { changeProjections, projectionValuesOf, type EntityChanges } from './projections.js';
import { ConfigOrigin, resourceKey, RuntimeConfig, type ConfigResource, type EntityMaps } from './runtime-config.js';

/** A delta as the data plane applies it: its base, its target, and the decoded batch of changes. */
export interface DeltaInput {
  readonly epoch: string;
  readonly fromVersion: number;
  readonly toVersion: number;
  readonly targetHash: Uint8Array;
  readonly batch: ResourceBatchMessage;
}

/**
 * Applies a delta to the serving config, all-or-nothing, in work proportional to the delta: only
 * the changed resources are decoded, validated and hashed (an upsert whose bytes equal the current
 * payload is not decoded again), the reference index moves by the changed entities and references
 * are checked through it (protocol's `checkConsistency`), and each projection whose kinds changed
 * is advanced from its previous value (the router with `Router.changeSteps`); the others are kept
 * as they are. The maps are persistent (`ImmutableMap`: O(log n) per change, structure shared with
 * the current config) and the hash sum is updated by subtracting the old digest and adding the new
 * one per change.
 *
 * Refusals: epoch or `fromVersion` not the applied state, or a target not above it →
 * `ERROR_BASE_MISMATCH`; an entity twice in the batch or invalid, or a plugin instance whose plugin
 * is not loaded (`loadedPlugins`) → `ERROR_INVALID`; undecodable →
 * `ERROR_DECODE`; an entity referencing one missing from the result (a route whose service is
 * missing), or a removed entity still referenced → `ERROR_DANGLING_REF`; a result whose hash is not
 * `targetHash` → `ERROR_HASH_MISMATCH`; a projection that refuses the result → `ERROR_INVALID`.
 */
export function applyDelta(current: RuntimeConfig | null, delta: DeltaInput, options: Omit<ApplyOptions, 'current'> = {}): ApplyResult {
  return runSteps(deltaSteps(current, delta, options));
}

/**
 * {@link applyDelta} as pausable {@link Steps} (one step per entity checked and applied, per route
 * compiled, per host bucket updated), for {@link runStepsSliced}: a delta as large as the whole config (a
 * bulk import) does not stop the proxy either.
 */
export function* deltaSteps(current: RuntimeConfig | null, delta: DeltaInput, options: Omit<ApplyOptions, 'current'> = {}): Steps<ApplyResult> {
  const version = delta.toVersion;
  if (!current) return reject(AckError.ERROR_BASE_MISMATCH, 'delta received without a config to apply it to', version);
  if (delta.epoch !== current.epoch || delta.fromVersion !== current.version) {
    return reject(
      AckError.ERROR_BASE_MISMATCH,
      `delta from ${delta.epoch}@${delta.fromVersion} does not apply to ${current.epoch}@${current.version}`,
      version,
    );
  }
  if (delta.toVersion <= delta.fromVersion) {
    return reject(AckError.ERROR_BASE_MISMATCH, `delta to version ${delta.toVersion} does not advance from ${delta.fromVersion}`, version);
  }

  const errors = new ResourceErrorList();
  const seen = new Set<string>();
  const removals: { kind: EntityKind; id: string }[] = [];
  for (const key of delta.batch.removals ?? []) {
    const type = key.type ?? 0;
    const id = key.id ?? '';
    const kind = kindOfEntityType(type);
    if (kind === undefined) {
      errors.add(type, undefined, id, ResourceErrorCode.UNKNOWN_TYPE, `unknown entity type ${type}`);
      continue;
    }
    const k = resourceKey(kind, id);
    if (seen.has(k)) {
      errors.add(type, kind, id, ResourceErrorCode.DUPLICATE, 'entity appears twice in the delta');
      continue;
    }
    seen.add(k);
    removals.push({ kind, id });
  }
  const upserts: CheckedEntity[] = [];
  /** Upserts whose bytes equal the current payload (by key): only their informational version changes. */
  const unchanged: [string, ConfigResource][] = [];
  const shared = new EntityInterner();
  for (const resource of delta.batch.upserts ?? []) {
    const kind = kindOfEntityType(resource.type ?? 0);
    const id = resource.id ?? '';
    if (kind !== undefined) {
      const k = resourceKey(kind, id);
      if (seen.has(k)) {
        errors.add(resource.type ?? 0, kind, id, ResourceErrorCode.DUPLICATE, 'entity appears twice in the delta');
        continue;
      }
      seen.add(k);
      const existing = current.resources.get(k);
      const payload = resource.payload ?? new Uint8Array(0);
      if (existing && Buffer.from(existing.payload.buffer, existing.payload.byteOffset, existing.payload.byteLength).equals(payload)) {
        unchanged.push([k, { ...existing, version: Number(resource.version ?? 0) }]);
        continue;
      }
    }
    const checked = checkResource(resource, errors, options.isSchemaChecked === true, shared);
    if (checked) upserts.push(checked);
    yield;
  }
  if (errors.count > 0) return reject(ackErrorFor(errors), errors.summary(), version, errors);

  let resources = current.resources;
  let hashSum = current.hashSum;
  const maps: Record<EntityKind, ImmutableMap<AnyEntity>> = { ...current.entities };
  const changes: Partial<Record<EntityKind, { upserts: AnyEntity[]; removedIds: string[] }>> = {};
  const changeOf = (kind: EntityKind) => (changes[kind] ??= { upserts: [], removedIds: [] });
  /** The entities the delta replaces or removes, and those it puts in: what the reference index moves by. */
  const before: { kind: EntityKind; entity: AnyEntity }[] = [];
  const removed: { kind: EntityKind; id: string }[] = [];

  for (const { kind, id } of removals) {
    const k = resourceKey(kind, id);
    const old = resources.get(k);
    if (!old) continue; // removing an absent entity changes nothing; the hash check catches divergence
    resources = resources.delete(k);
    hashSum = subtractDigest(hashSum, resourceDigest(kind, id, old.payload));
    const entity = maps[kind].get(id);
    if (entity !== undefined) before.push({ kind, entity });
    maps[kind] = maps[kind].delete(id);
    changeOf(kind).removedIds.push(id);
    removed.push({ kind, id });
  }
  for (const u of upserts) {
    const k = resourceKey(u.kind, u.id);
    const old = resources.get(k);
    if (old) hashSum = subtractDigest(hashSum, resourceDigest(u.kind, u.id, old.payload));
    hashSum = addDigest(hashSum, resourceDigest(u.kind, u.id, u.payload));
    resources = resources.set(k, { type: u.type, id: u.id, version: u.version, payload: u.payload });
    const entity = maps[u.kind].get(u.id);
    if (entity !== undefined) before.push({ kind: u.kind, entity });
    maps[u.kind] = maps[u.kind].set(u.id, u.entity);
    changeOf(u.kind).upserts.push(u.entity);
    yield;
  }
  for (const [k, r] of unchanged) resources = resources.set(k, r);
  const entities = maps as EntityMaps;
  const references = current.references.withChanges(before, upserts);

  const view = referenceView({
    hasKey: (key) => resources.has(key),
    referrerCount: (kind, id) => references.count(kind, id),
    entitiesOf: (kind) => maps[kind].values(),
  });
  if (!checkReferences({ upserts, removals: removed }, view, errors)) return reject(AckError.ERROR_DANGLING_REF, errors.summary(), version, errors);

  const hash = new ConfigHash(hashSum);
  if (!hashEquals(hash.bytes(), delta.targetHash)) {
    return reject(AckError.ERROR_HASH_MISMATCH, `delta result hashes to ${hash.hex()}, announced ${hashHex(delta.targetHash)}`, version);
  }

  const changed = yield* changeProjections(projectionValuesOf(current), changes as EntityChanges, entities, { plugins: current.plugins.runtime });
  if (!changed.ok) return projectionRefusal(changed.name, changed.failure, changed.cause, version, errors);
  const config = new RuntimeConfig({
    epoch: current.epoch,
    version,
    hashSum,
    resources,
    entities,
    references,
    projections: changed.values,
    source: options.source ?? ConfigOrigin.CONTROL_PLANE,
    appliedAtMs: (options.now ?? Date.now)(),
  });
  return { ok: true, config };
}
