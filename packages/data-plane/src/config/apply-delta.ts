import { addDigest, ConfigHash, ENTITY_TYPE_BY_KIND, subtractDigest, hashEquals, resourceDigest, hashHex, kindOfEntityType, type ResourceBatchMessage, type Route, type Service } from '@sluice/protocol';
import { AckError, ResourceErrorCode } from '../errors.js';
import type { Router } from '../router/router.js';
import { runSteps, type Steps } from '../steps.js';
import { ackErrorFor, reject, routerFailure, type ApplyOptions, type ApplyResult } from './apply-snapshot.js';
import { checkResource, ResourceErrorList, type CheckedEntity } from './entity-checks.js';
import { ConfigOrigin, resourceKey, RuntimeConfig, type ConfigResource } from './runtime-config.js';

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
 * payload is not decoded again), the hash is updated per change on a clone, references are checked
 * through per-service route counts, and the router is advanced with `Router.withChanges`. The maps
 * are persistent (`ImmutableMap`: O(log n) per change, structure shared with the current config) and
 * the hash sum is updated by subtracting the old digest and adding the new one per change.
 *
 * Refusals: epoch or `fromVersion` not the applied state, or a target not above it →
 * `ERROR_BASE_MISMATCH`; an entity twice in the batch or invalid → `ERROR_INVALID`; undecodable →
 * `ERROR_DECODE`; a route whose service is missing from the result, or a removed service still
 * referenced → `ERROR_DANGLING_REF`; a result whose hash is not `targetHash` → `ERROR_HASH_MISMATCH`.
 */
export function applyDelta(current: RuntimeConfig | null, delta: DeltaInput, options: Omit<ApplyOptions, 'current'> = {}): ApplyResult {
  return runSteps(deltaSteps(current, delta, options));
}

/**
 * {@link applyDelta} as pausable {@link Steps} (one step per entity checked, per route compiled,
 * per host bucket updated), for {@link runStepsSliced}: a delta as large as the whole config (a
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
  const removals: { kind: 'services' | 'routes'; id: string }[] = [];
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
  /** Upserts whose bytes equal the current payload: only their informational version changes. */
  const unchanged: ConfigResource[] = [];
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
        unchanged.push({ ...existing, version: Number(resource.version ?? 0) });
        continue;
      }
    }
    const checked = checkResource(resource, errors, options.isSchemaChecked === true);
    if (checked) upserts.push(checked);
    yield;
  }
  if (errors.count > 0) return reject(ackErrorFor(errors), errors.summary(), version, errors);

  let resources = current.resources;
  let services = current.services;
  let routes = current.routes;
  let routeCountByService = current.routeCountByService;
  let hashSum = current.hashSum;
  const countRoute = (route: Route | undefined, step: 1 | -1) => {
    const serviceId = route?.service?.id;
    if (serviceId === undefined) return;
    const n = (routeCountByService.get(serviceId) ?? 0) + step;
    routeCountByService = n > 0 ? routeCountByService.set(serviceId, n) : routeCountByService.delete(serviceId);
  };

  const removedRouteIds: string[] = [];
  const removedServiceIds: string[] = [];
  for (const { kind, id } of removals) {
    const k = resourceKey(kind, id);
    const old = resources.get(k);
    if (!old) continue; // removing an absent entity changes nothing; the hash check catches divergence
    resources = resources.delete(k);
    hashSum = subtractDigest(hashSum, resourceDigest(kind, id, old.payload));
    if (kind === 'routes') {
      countRoute(routes.get(id), -1);
      routes = routes.delete(id);
      removedRouteIds.push(id);
    } else {
      services = services.delete(id);
      removedServiceIds.push(id);
    }
  }
  const upsertedRoutes: Route[] = [];
  const upsertedServices: Service[] = [];
  for (const u of upserts) {
    const k = resourceKey(u.kind, u.id);
    const old = resources.get(k);
    if (old) hashSum = subtractDigest(hashSum, resourceDigest(u.kind, u.id, old.payload));
    hashSum = addDigest(hashSum, resourceDigest(u.kind, u.id, u.payload));
    resources = resources.set(k, { type: u.type, kind: u.kind, id: u.id, version: u.version, payload: u.payload });
    if (u.kind === 'routes') {
      countRoute(routes.get(u.id), -1);
      countRoute(u.entity, 1);
      routes = routes.set(u.id, u.entity);
      upsertedRoutes.push(u.entity);
    } else {
      services = services.set(u.id, u.entity);
      upsertedServices.push(u.entity);
    }
  }
  for (const r of unchanged) resources = resources.set(resourceKey(r.kind, r.id), r);

  for (const route of upsertedRoutes) {
    const serviceId = route.service?.id;
    if (serviceId !== undefined && !services.has(serviceId)) {
      errors.add(ENTITY_TYPE_BY_KIND.routes, 'routes', route.id, ResourceErrorCode.DANGLING_REF, `service ${serviceId} does not exist`);
    }
  }
  for (const serviceId of removedServiceIds) {
    if ((routeCountByService.get(serviceId) ?? 0) === 0) continue;
    // Failure path only: find the routes that still point at the removed service.
    for (const route of routes.values()) {
      if (route.service?.id === serviceId) {
        errors.add(ENTITY_TYPE_BY_KIND.routes, 'routes', route.id, ResourceErrorCode.DANGLING_REF, `service ${serviceId} is removed but still referenced`);
      }
    }
  }
  if (errors.count > 0) return reject(AckError.ERROR_DANGLING_REF, errors.summary(), version, errors);

  const hash = new ConfigHash(hashSum);
  if (!hashEquals(hash.bytes(), delta.targetHash)) {
    return reject(AckError.ERROR_HASH_MISMATCH, `delta result hashes to ${hash.hex()}, announced ${hashHex(delta.targetHash)}`, version);
  }

  let router: Router;
  try {
    router =
      upsertedRoutes.length + removedRouteIds.length + upsertedServices.length + removedServiceIds.length === 0
        ? current.router
        : yield* current.router.changeSteps({
            upsertRoutes: upsertedRoutes,
            removeRouteIds: removedRouteIds,
            upsertServices: upsertedServices,
            removeServiceIds: removedServiceIds,
          });
  } catch (cause) {
    return routerFailure(cause, version, errors);
  }
  const config = new RuntimeConfig({
    epoch: current.epoch,
    version,
    hashSum,
    resources,
    services,
    routes,
    routeCountByService,
    router,
    source: options.source ?? ConfigOrigin.CONTROL_PLANE,
    appliedAtMs: (options.now ?? Date.now)(),
  });
  return { ok: true, config };
}
