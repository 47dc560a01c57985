import type { Route, Service } from '@sluice/protocol';

/**
 * The consumer a request is attributed to, as an authentication plugin sets it (issue 11): the
 * subset of Kong's consumer entity the pipeline reads.
 */
export interface PluginConsumer {
  readonly id: string;
  readonly username?: string | null;
  readonly custom_id?: string | null;
}

/**
 * The credential a request authenticated with (Kong's `kong.client.get_credential()`): a key-auth
 * or basic-auth credential entity, reduced to what the pipeline reads.
 */
export interface PluginCredential {
  /** The credential entity's id (rate-limiting's `limit_by: credential` counts by it). */
  readonly id: string;
  /** The consumer it belongs to. */
  readonly consumerId: string;
  /** What `X-Credential-Identifier` carries: key-auth the credential id, basic-auth the username (Kong's choice). */
  readonly identifier: string;
}

/** A basic-auth credential as the directory holds it: the credential and its stored password hash. */
export interface BasicAuthRecord {
  readonly credential: PluginCredential;
  /** Kong's 40-hex `sha1(password .. consumer_id)` or Sluice's `$scrypt$…` (never the clear text). */
  readonly passwordHash: string;
}

/**
 * The consumers and credentials of the config a request is served with, as authentication and
 * ACL handlers look them up: every lookup is one or two map hits, built when the config was applied.
 */
export interface ConsumerDirectoryView {
  /** The key-auth credential whose key is `key`; undefined when none, or when it expired (`expires_at <= now`). */
  keyAuthCredential(key: string): PluginCredential | undefined;
  /** The basic-auth credential of `username` (case-sensitive, as Kong's). */
  basicAuthCredential(username: string): BasicAuthRecord | undefined;
  /** The consumer with id `id`. */
  consumer(id: string): PluginConsumer | undefined;
  /**
   * The consumer a plugin's `anonymous` names (Kong's `kong.client.load_consumer(x, true)`): by id
   * when `idOrUsername` is a UUID, else (or when no consumer has that id) by username; never by custom_id.
   */
  anonymousConsumer(idOrUsername: string): PluginConsumer | undefined;
  /** The consumer's ACL groups in the order they were created (oldest first); empty without any. */
  groupsOf(consumerId: string): readonly string[];
}

/**
 * The request's headers as the upstream will receive them: the client's (less the hop-by-hop ones),
 * with the changes handlers made. Names are case-insensitive. The proxy's own headers are added
 * after the access phase, as Kong's nginx template adds them: `Host` set here replaces the upstream
 * Host; `X-Forwarded-For`, `Via` set here are what the proxy appends the peer and itself to; the
 * other `X-Forwarded-*` and `X-Real-IP` set here are forwarded only from a trusted client.
 */
export interface RequestHeaderView {
  /** The first value of the header, or undefined. */
  get(name: string): string | undefined;
  /** Every value of the header, in order (empty when absent): a repeated credential header is visible here. */
  getAll(name: string): readonly string[];
  /**
   * Replaces every value of the header on the upstream request.
   * @throws TypeError for an invalid name or value; InvalidArgumentError for a header the proxy frames
   * itself (hop-by-hop, `Content-Length`, `Transfer-Encoding`, `Expect`, the request id header).
   */
  set(name: string, value: string): void;
  /** Removes the header from the upstream request (same refusals as {@link set}). */
  clear(name: string): void;
}

/**
 * The headers of the response to the client. In `rewrite` and `access` changes are kept and applied
 * to whatever response follows (proxied or generated), before the `header_filter` handlers run; in
 * `header_filter` they apply to the response head about to be sent; from `body_filter` on the head
 * is sent and changes throw. Names are case-insensitive.
 */
export interface ResponseHeaderView {
  /** The first value of the header on the response head (header_filter, body_filter, log), or undefined. */
  get(name: string): string | undefined;
  /** Replaces every value of the header. `Transfer-Encoding` is ignored (the proxy frames the body), as Kong ignores it. */
  set(name: string, value: string): void;
  /** Adds a value, keeping those there. */
  add(name: string, value: string): void;
  /** Removes every value of the header. */
  clear(name: string): void;
}

/** When things happened to a request, in `performance.now()` ms. */
export interface RequestTiming {
  /** The request's arrival. */
  readonly startMs: number;
  /** The (last) dispatch of the upstream request; -1 if it was never sent. */
  readonly dispatchMs: number;
  /** The arrival of the upstream response head; -1 if none arrived (or it was refused). */
  readonly upstreamHeadMs: number;
  /** The end of the response (set for the log phase); -1 before. */
  readonly endMs: number;
}

/**
 * What a plugin handler sees of one request: a narrow view, never the exchange. One per request,
 * shared by every handler and phase of its chain.
 */
export interface PluginContext {
  /** The request id (`X-Sluice-Request-Id`, 32 hex characters). */
  readonly requestId: string;
  readonly method: string;
  /** The request target as received (absolute-form included), query included. */
  readonly uri: string;
  /** The request path, origin-form, without the query string, as sent (not normalised). */
  readonly path: string;
  /** The Host header as sent (it may carry `:port`), or the host of an absolute-form target; undefined without either. */
  readonly host: string | undefined;
  /** The client's address: the TCP peer (`::ffff:a.b.c.d` as `a.b.c.d`). */
  readonly clientIp: string;
  /** Whether the request is an `Upgrade` (WebSocket) handshake: its response is a tunnel, with no body phase. */
  readonly isUpgrade: boolean;
  /** The request headers, as they will go upstream. */
  readonly request: RequestHeaderView;
  /** The response headers (see {@link ResponseHeaderView} for what each phase may do). */
  readonly response: ResponseHeaderView;
  /** The matched route; null when none matched. */
  readonly route: Route | null;
  /** The matched route's service; null without one. */
  readonly service: Service | null;
  /** The consumer the request is attributed to, set by {@link authenticate}; null until then. */
  readonly consumer: PluginConsumer | null;
  /** The credential it authenticated with, set by {@link authenticate}; null until then and for an anonymous consumer. */
  readonly credential: PluginCredential | null;
  /** The consumers and credentials of the config this request is served with. */
  readonly consumers: ConsumerDirectoryView;
  /**
   * Attributes the request to `consumer` with `credential` (Kong's `kong.client.authenticate` and
   * the auth plugins' `set_consumer`), and sets Kong's upstream headers from them, replacing
   * whatever the client sent: `X-Consumer-ID`, `X-Consumer-Custom-ID`, `X-Consumer-Username` (each
   * set when the consumer has it, else cleared), `X-Credential-Identifier` (the credential's
   * identifier, cleared without one), `X-Anonymous-Consumer: true` without a credential (the
   * anonymous consumer), cleared otherwise. A later call (another auth plugin) replaces all of them.
   */
  authenticate(consumer: PluginConsumer | null, credential: PluginCredential | null): void;
  /**
   * Removes every `name` argument from the upstream request's query string, keeping the other
   * arguments in their order (Kong's `kong.service.request.clear_query_arg`). Names compare decoded.
   */
  clearQueryArg(name: string): void;
  /**
   * The request body, read whole (Kong's `kong.request.get_raw_body`): an empty buffer for a
   * request without one; null when it is larger than the proxy's `requestBufferBytes` (what was
   * read is still forwarded, followed by the rest). Reading it makes the upstream request carry
   * the buffered body. Rewrite and access only. Rejects when the client's body fails to arrive.
   */
  readBody(): Promise<Buffer | null>;
  /**
   * Replaces the body sent upstream (Kong's `kong.service.request.set_raw_body`; `Content-Length`
   * follows). Call after {@link readBody} resolved with a buffer. Rewrite and access only.
   */
  setBody(body: Buffer): void;
  /**
   * Answers the request with a generated response instead of forwarding it (Kong's
   * `kong.response.error`): `status` 400–599, `message` (default Kong's text for the status)
   * rendered in the format the request's `Accept` asks for (JSON by default) with the request id,
   * and extra `headers`. The remaining rewrite and access handlers do not run; the chain's
   * header_filter, body_filter and log handlers run on the answer. The first answer wins.
   * @throws InvalidArgumentError for a status outside 400–599, or outside the rewrite and access phases.
   */
  answer(status: number, message?: string, headers?: Readonly<Record<string, string>>): void;
  /** Whether a handler answered the request. */
  readonly hasAnswered: boolean;
  /**
   * The response status: 0 in rewrite and access; the status being sent in header_filter and
   * body_filter; in log, the status sent, or 499 when the client left before a response head.
   */
  readonly status: number;
  readonly timing: RequestTiming;
  /** Response body bytes handed to the client's socket (final in log); null for an upgrade (a tunnel is not counted). */
  readonly bodyBytesSent: number | null;
  /** `host:port` the request was sent to; null when it was not sent upstream. */
  readonly upstreamAddress: string | null;
}
