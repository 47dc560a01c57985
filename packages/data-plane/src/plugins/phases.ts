/**
 * The phases of a request a plugin handler can act in, in the order they run (Kong's, without the
 * `certificate`, `preread` and `response` phases, which this proxy has no use for):
 * - `rewrite`: before anything else of the chain; may answer.
 * - `access`: may change the upstream request or answer instead of forwarding it.
 * - `header_filter`: the response head (proxied or generated) before it is sent; may change its headers.
 * - `body_filter`: each chunk of the response body before it is sent.
 * - `log`: once the response is finished (or the client left); its status and timings are final.
 */
export const PHASES = ['rewrite', 'access', 'header_filter', 'body_filter', 'log'] as const;
export type Phase = (typeof PHASES)[number];

/** The phases that run before the request is forwarded, in which a handler may answer and may be async. */
export const REQUEST_PHASES = ['rewrite', 'access'] as const satisfies readonly Phase[];
export type RequestPhase = (typeof REQUEST_PHASES)[number];
