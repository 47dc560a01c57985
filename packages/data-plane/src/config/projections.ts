import type { EntityKind, EntityTypes } from '@sluice/protocol';
import { ResourceErrorCode } from '../errors.js';
import { Router } from '../router/router.js';
import type { Steps } from '../steps.js';
import { RATE_LIMITING_CHAINS_PROJECTION } from './rate-limiting-chains.js';
import type { EntityMaps } from './runtime-config.js';

/** The entities of one kind a delta changed: new or different entities, and the ids it removed. */
export interface KindChange<T> {
  readonly upserts: readonly T[];
  readonly removedIds: readonly string[];
}

/** A delta's changed entities by kind; a kind the delta did not change is absent. */
export type EntityChanges = { readonly [K in EntityKind]?: KindChange<EntityTypes[K]> };

/** Why a projection refused a config, as one per-entity error of the NACK. */
export interface ProjectionFailure {
  readonly kind: EntityKind;
  /** The entity it names, or '' when the projection cannot say which. */
  readonly id: string;
  readonly code: ResourceErrorCode;
  readonly message: string;
}

/**
 * A structure derived from a config's entities that the proxy reads per request (the router; the
 * balancer's pools, the consumer index and the plugin chains to come), built once per config
 * version and kept in the RuntimeConfig beside the entities. Pure and immutable, like the config:
 * `change` returns a new value sharing structure with the previous one, in work proportional to the
 * change. Both are {@link Steps}, so a serving data plane builds them in slices.
 */
export interface Projection<V> {
  /**
   * The kinds it is built from. A delta that changes none of them keeps the previous value, the
   * same object (a delta touching only consumers does not touch the router).
   */
  readonly dependsOn: readonly EntityKind[];
  /** The value for a whole config (a snapshot, the cache, a declarative file). */
  build(entities: EntityMaps): Steps<V>;
  /**
   * The value after a delta, from the previous one and the delta's changed entities (`changes`
   * holds at least one of the `dependsOn` kinds); `entities` is the resulting config's.
   */
  change(previous: V, changes: EntityChanges, entities: EntityMaps): Steps<V>;
  /** How a throw from `build` or `change` is reported in the refusal. */
  failure(cause: unknown): ProjectionFailure;
}

/** The router over the config's routes and services (`Router.buildSteps` / `Router.changeSteps`). */
export const ROUTER_PROJECTION: Projection<Router> = {
  dependsOn: ['services', 'routes'],
  build: (entities) => Router.buildSteps([...entities.routes.values()], entities.services),
  change: (router, changes) =>
    router.changeSteps({
      upsertRoutes: changes.routes?.upserts,
      removeRouteIds: changes.routes?.removedIds,
      upsertServices: changes.services?.upserts,
      removeServiceIds: changes.services?.removedIds,
    }),
  failure(cause) {
    // The router never throws today; should it, it names the route by `routeId` or `id`.
    const err = cause as { routeId?: unknown; id?: unknown; message?: unknown } | null;
    const id = typeof err?.routeId === 'string' ? err.routeId : typeof err?.id === 'string' ? err.id : '';
    const message = typeof err?.message === 'string' ? err.message : String(cause);
    return { kind: 'routes', id, code: ResourceErrorCode.ROUTER, message };
  },
};

/**
 * Every projection of a RuntimeConfig, by the name the config holds its value under
 * (`config.router`). Adding one is an entry here: the applies build and change it, and the config
 * carries it, typed. Values are built in this order.
 */
export const PROJECTIONS = {
  router: ROUTER_PROJECTION,
  chains: RATE_LIMITING_CHAINS_PROJECTION,
} as const satisfies { readonly [name: string]: Projection<unknown> };

/** The name of a projection. */
export type ProjectionName = keyof typeof PROJECTIONS;

/** The values of every projection, by name: what a RuntimeConfig holds beside its entities. */
export type ProjectionValues = { readonly [N in ProjectionName]: (typeof PROJECTIONS)[N] extends Projection<infer V> ? V : never };

const PROJECTION_NAMES = Object.keys(PROJECTIONS) as ProjectionName[];

/** The outcome of building or changing the projections: their values, or the one that refused and why. */
export type ProjectionsResult =
  | { readonly ok: true; readonly values: ProjectionValues }
  | { readonly ok: false; readonly name: ProjectionName; readonly failure: ProjectionFailure; readonly cause: unknown };

/** Builds every projection of a whole config. O(config), in steps. */
export function* buildProjections(entities: EntityMaps): Steps<ProjectionsResult> {
  const values: Record<string, unknown> = {};
  for (const name of PROJECTION_NAMES) {
    const projection: Projection<unknown> = PROJECTIONS[name];
    try {
      values[name] = yield* projection.build(entities);
    } catch (cause) {
      return { ok: false, name, failure: projection.failure(cause), cause };
    }
  }
  return { ok: true, values: values as ProjectionValues };
}

/**
 * Changes every projection by a delta: a projection none of whose `dependsOn` kinds changed keeps
 * its previous value (===); the others get `change`. O(changes), in steps.
 */
export function* changeProjections(previous: ProjectionValues, changes: EntityChanges, entities: EntityMaps): Steps<ProjectionsResult> {
  const values: Record<string, unknown> = {};
  for (const name of PROJECTION_NAMES) {
    const projection: Projection<unknown> = PROJECTIONS[name];
    if (!projection.dependsOn.some((kind) => changes[kind] !== undefined)) {
      values[name] = previous[name];
      continue;
    }
    try {
      values[name] = yield* projection.change(previous[name], changes, entities);
    } catch (cause) {
      return { ok: false, name, failure: projection.failure(cause), cause };
    }
  }
  return { ok: true, values: values as ProjectionValues };
}

/** The projection values a config (or any object carrying them by name) holds. */
export function projectionValuesOf(holder: ProjectionValues): ProjectionValues {
  const values: Record<string, unknown> = {};
  for (const name of PROJECTION_NAMES) values[name] = holder[name];
  return values as ProjectionValues;
}
