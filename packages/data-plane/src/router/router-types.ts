/** What the router reads of a request and what it answers: the types of `Router.match` and `Router.withChanges`. */
import type { Route, Service } from '@sluice/protocol';
import type { RequestHeaders } from './request-conditions.js';

/** What the router looks at in a request. */
export interface RouterRequest {
  /** Method as sent (Kong compares it exactly, so `get` matches no `GET` route). */
  readonly method: string;
  /** Request target as received: the origin-form path, with its query string if any. */
  readonly target: string;
  /** The Host header as sent (it may carry `:port`), or undefined when there is none. */
  readonly host: string | undefined;
  /** Listener port: the port route hosts with `:port` compare with when the Host header has none. */
  readonly port: number;
  /** `http` or `https`: SNI conditions only apply to https. */
  readonly scheme: string;
  /** TLS server name sent by the client (https only). */
  readonly sni?: string | undefined;
  /**
   * Request headers by lower-case name, a repeated header as an array of its values (Node's
   * `headersDistinct` shape). Read only when a candidate route has header conditions, so a getter
   * that computes it lazily is fine.
   */
  readonly headers: RequestHeaders;
}

/** Captures of a regex path: positional (index 0 is the whole match) and named. */
export interface UriCaptures {
  readonly positional: readonly (string | undefined)[];
  readonly named: Readonly<Record<string, string | undefined>>;
}

/** The route a request matched, and how to forward it. */
export interface RouteMatch {
  readonly route: Route;
  /** The route's service, or null for a route without one (the proxy answers 503). */
  readonly service: Service | null;
  /** The normalised request path (no query string) the route was matched on. */
  readonly path: string;
  /** The path text that matched: the prefix path, or the regex's match; null for a route without paths. */
  readonly matchedPath: string | null;
  /** What strip_path removed (Kong's `prefix`), or null when nothing was stripped. */
  readonly strippedPrefix: string | null;
  /** Upstream path by Kong's v0 joining, escaped; no query string (append the request's unchanged). */
  readonly upstreamPath: string;
  /** Captures of a regex path, or null. */
  readonly captures: UriCaptures | null;
}

/** A batch of entity changes for {@link Router.withChanges}. */
export interface RouterChange {
  readonly upsertRoutes?: readonly Route[];
  readonly removeRouteIds?: readonly string[];
  readonly upsertServices?: readonly Service[];
  readonly removeServiceIds?: readonly string[];
}
