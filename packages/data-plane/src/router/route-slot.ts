import type { Route } from '@sluice/protocol';
import type { RouteGroup } from './route-group.js';

/**
 * What the router keeps per route id, in one map: an active route's compiled groups (their
 * `route` is the route; most routes compile to one group, kept without an array around it), or
 * the route itself when it compiles to none (its service disabled, a stream route). One map
 * rather than a map of routes and one of groups, and no array per route: each was about 56 bytes
 * or more per route of a 100,000-route router.
 */
export type RouteSlot = Route | RouteGroup | readonly RouteGroup[];

function isGroupList(slot: RouteSlot): slot is readonly RouteGroup[] {
  return Array.isArray(slot);
}

function isOneGroup(slot: RouteSlot): slot is RouteGroup {
  return (slot as RouteGroup).entries !== undefined;
}

/** The slot of `route` compiled to `groups`. */
export function slotOf(route: Route, groups: readonly RouteGroup[]): RouteSlot {
  return groups.length === 0 ? route : groups.length === 1 ? groups[0]! : groups;
}

/** The route of `slot`. */
export function routeOf(slot: RouteSlot): Route {
  return isGroupList(slot) ? slot[0]!.route : isOneGroup(slot) ? slot.route : slot;
}

/** The compiled groups in `slot`: none for an inactive or missing route. */
export function groupsOf(slot: RouteSlot | undefined): readonly RouteGroup[] {
  return slot === undefined ? [] : isGroupList(slot) ? slot : isOneGroup(slot) ? [slot] : [];
}
