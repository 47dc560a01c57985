import { PLUGIN_DESCRIPTORS, type Plugin } from '@sluice/protocol';
import type { PluginContext } from '../plugin-context.js';
import type { PluginEnv, PluginFactory } from '../plugin-factory.js';
import type { PluginHandler } from '../plugin-handler.js';
import { queryArgValues } from '../query-args.js';
import { parseBodyArgs, type BodyArgs } from './request-body-args.js';

/** key-auth's config (`kong/plugins/key-auth/schema.lua`), complete as the control plane sends it. */
export interface KeyAuthConfig {
  /** Where the key is looked for, in order (default `["apikey"]`). */
  readonly key_names: readonly string[];
  readonly hide_credentials: boolean;
  /** A consumer id or username to attribute failed requests to ("logical OR" with other auth plugins); null: fail them. */
  readonly anonymous: string | null;
  readonly key_in_header: boolean;
  readonly key_in_query: boolean;
  /**
   * Whether the body is searched too (urlencoded, JSON, multipart: Kong's `get_body`). The body is
   * then read whole before the lookup (bounded by the proxy's `requestBufferBytes`), and a request
   * whose body cannot be parsed (no or another Content-Type, bad JSON, too large) gets 400
   * `Cannot process request body`, as in Kong.
   */
  readonly key_in_body: boolean;
  /** Whether an OPTIONS (CORS preflight) request is authenticated too (default true). */
  readonly run_on_preflight: boolean;
  readonly realm: string | null;
}

/** Kong's messages (`kong/plugins/key-auth/handler.lua`). */
export const KEY_AUTH_MESSAGES = {
  noKey: 'No API key found in request',
  invalid: 'Unauthorized',
  duplicate: 'Duplicate API key found',
  badBody: 'Cannot process request body',
  unexpected: 'An unexpected error occurred',
} as const;

function bool(config: Record<string, unknown>, name: string, fallback: boolean): boolean {
  const value = config[name] ?? fallback;
  if (typeof value !== 'boolean') throw new TypeError(`config.${name}: expected a boolean`);
  return value;
}

function optionalString(config: Record<string, unknown>, name: string): string | null {
  const value = config[name] ?? null;
  if (value !== null && typeof value !== 'string') throw new TypeError(`config.${name}: expected a string`);
  return value;
}

/** Reads a plugin entity's config as key-auth's, Kong's defaults for what is absent. @throws TypeError for a field of the wrong type. */
export function keyAuthConfig(config: Record<string, unknown>): KeyAuthConfig {
  const names = config.key_names ?? ['apikey'];
  if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === 'string' && n !== '')) throw new TypeError('config.key_names: expected a non-empty array of header names');
  return Object.freeze({
    key_names: Object.freeze([...(names as string[])]),
    hide_credentials: bool(config, 'hide_credentials', false),
    anonymous: optionalString(config, 'anonymous'),
    key_in_header: bool(config, 'key_in_header', true),
    key_in_query: bool(config, 'key_in_query', true),
    key_in_body: bool(config, 'key_in_body', false),
    run_on_preflight: bool(config, 'run_on_preflight', true),
    realm: optionalString(config, 'realm'),
  });
}

/** Where a key name is looked for in the headers: as configured, then with `_` as `-` (nginx's `get_headers` does). */
function headerValues(ctx: PluginContext, name: string, dashed: string | null): readonly string[] {
  const values = ctx.request.getAll(name);
  return values.length > 0 || dashed === null ? values : ctx.request.getAll(dashed);
}

/** A lookup found the name more than once. */
const DUPLICATE = Symbol('duplicate');
/** The body could not be read or parsed (key_in_body). */
const BAD_BODY = Symbol('bad body');

/**
 * Kong's key-auth (PRIORITY 1250, access): finds an API key under each of `key_names` in turn, in
 * the headers, then the query string; the first place that has the name wins, even with a wrong
 * value. The key's credential attributes the request to its consumer (`ctx.authenticate`, Kong's
 * upstream headers); an expired credential is as good as none. Failures answer 401 with Kong's
 * message and `WWW-Authenticate: Key[ realm="…"]`, or, with `anonymous`, authenticate the
 * anonymous consumer instead (500 when it does not exist). `hide_credentials` removes the header
 * and query argument of the name the key was found under (and, with key_in_body, re-serializes
 * the body without it).
 */
export class KeyAuthHandler implements PluginHandler {
  readonly name = 'key-auth';
  readonly priority: number;
  readonly config: KeyAuthConfig;
  private readonly wwwAuthenticate: Readonly<Record<string, string>>;
  /** Each key name with its dashed variant (null when it has no `_`). */
  private readonly names: readonly (readonly [string, string | null])[];

  constructor(config: KeyAuthConfig, priority: number = KEY_AUTH_PRIORITY) {
    this.config = config;
    this.priority = priority;
    this.wwwAuthenticate = Object.freeze({ 'WWW-Authenticate': config.realm === null ? 'Key' : `Key realm="${config.realm}"` });
    this.names = config.key_names.map((n) => [n, n.includes('_') ? n.replace(/_/g, '-') : null] as const);
  }

  access(ctx: PluginContext): void | Promise<void> {
    const config = this.config;
    if (!config.run_on_preflight && ctx.method === 'OPTIONS') return;
    if (config.anonymous !== null && ctx.credential !== null) return; // logical OR: another plugin authenticated
    if (!config.key_in_body) return this.conclude(ctx, this.authenticate(ctx, null));
    return ctx.readBody().then((body) => {
      const args = body === null ? null : parseBodyArgs(body, ctx.request.get('content-type'));
      if (args === null) return this.conclude(ctx, BAD_BODY);
      this.conclude(ctx, this.authenticate(ctx, args));
    });
  }

  /** Answers (or falls back to the anonymous consumer) for `failure`; nothing on success (null). */
  private conclude(ctx: PluginContext, failure: string | typeof BAD_BODY | null): void {
    const config = this.config;
    if (failure === null) return;
    if (failure === BAD_BODY) {
      if (config.anonymous === null) return ctx.answer(400, KEY_AUTH_MESSAGES.badBody);
      failure = KEY_AUTH_MESSAGES.badBody;
    }
    if (config.anonymous === null) return ctx.answer(401, failure, this.wwwAuthenticate);
    const anonymous = ctx.consumers.anonymousConsumer(config.anonymous);
    if (anonymous === undefined) return ctx.answer(500, `anonymous consumer ${config.anonymous} is configured but doesn't exist`);
    ctx.authenticate(anonymous, null);
  }

  /** Authenticates the request from its key (`body`: the parsed body with key_in_body); returns null on success, else the 401 message. */
  private authenticate(ctx: PluginContext, body: BodyArgs | null): string | null {
    const config = this.config;
    let key: string | undefined;
    for (const [name, dashed] of this.names) {
      let found: string | true | typeof DUPLICATE | undefined;
      if (config.key_in_header) {
        const values = headerValues(ctx, name, dashed);
        if (values.length > 1) found = DUPLICATE;
        else if (values.length === 1) found = values[0];
      }
      if (found === undefined && config.key_in_query) {
        const values = queryArgValues(ctx.uri, name);
        if (values.length > 1) found = DUPLICATE;
        else if (values.length === 1) found = values[0];
      }
      if (found === undefined && body !== null) {
        const value = body.get(name);
        found = value === undefined ? undefined : value.kind === 'string' ? value.value : value.kind === 'many' ? DUPLICATE : true;
      }
      if (found === DUPLICATE) return KEY_AUTH_MESSAGES.duplicate;
      if (typeof found === 'string') {
        key = found;
        if (config.hide_credentials) {
          ctx.clearQueryArg(name);
          ctx.request.clear(name);
          if (dashed !== null) ctx.request.clear(dashed);
          if (body !== null && body.get(name) !== undefined) ctx.setBody(body.without(name));
        }
        break;
      }
      // A bare `?name` (no value) is not a key; Kong moves on to the next name.
    }
    if (key === undefined || key === '') return KEY_AUTH_MESSAGES.noKey;
    const credential = ctx.consumers.keyAuthCredential(key);
    if (credential === undefined) return KEY_AUTH_MESSAGES.invalid;
    const consumer = ctx.consumers.consumer(credential.consumerId);
    if (consumer === undefined) throw new Error(`key-auth credential ${credential.id} names consumer ${credential.consumerId}, which the config lacks`);
    ctx.authenticate(consumer, credential);
    return null;
  }
}

/** Kong's key-auth PRIORITY (1250). */
export const KEY_AUTH_PRIORITY = PLUGIN_DESCRIPTORS.get('key-auth')?.priority ?? 1250;

/** Makes key-auth handlers from `plugins` entities. */
export const KEY_AUTH_FACTORY: PluginFactory = {
  name: 'key-auth',
  priority: KEY_AUTH_PRIORITY,
  create: (plugin: Plugin, _env: PluginEnv) => new KeyAuthHandler(keyAuthConfig(plugin.config)),
};
