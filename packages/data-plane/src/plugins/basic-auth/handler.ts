import { PLUGIN_DESCRIPTORS, type Plugin } from '@sluice/protocol';
import type { BasicAuthRecord, PluginContext } from '../plugin-context.js';
import type { PluginEnv, PluginFactory, PluginLogger } from '../plugin-factory.js';
import type { PluginHandler } from '../plugin-handler.js';
import type { PasswordVerificationCache } from './password-verification-cache.js';
import { verifyPassword } from './password-verifier.js';
import { SlowHashQueue } from './slow-hash-queue.js';

/** basic-auth's config (`kong/plugins/basic-auth/schema.lua`), complete as the control plane sends it. */
export interface BasicAuthConfig {
  /** A consumer id or username to attribute failed requests to ("logical OR" with other auth plugins); null: fail them. */
  readonly anonymous: string | null;
  /** Whether the parsed header is removed from the upstream request (default false). */
  readonly hide_credentials: boolean;
  /** The realm of `WWW-Authenticate: Basic realm="…"` (default `service`). */
  readonly realm: string;
}

/** Reads a plugin entity's config as basic-auth's, Kong's defaults for what is absent. @throws TypeError for a field of the wrong type. */
export function basicAuthConfig(config: Record<string, unknown>): BasicAuthConfig {
  const anonymous = config.anonymous ?? null;
  if (anonymous !== null && typeof anonymous !== 'string') throw new TypeError('config.anonymous: expected a string');
  const hide = config.hide_credentials ?? false;
  if (typeof hide !== 'boolean') throw new TypeError('config.hide_credentials: expected a boolean');
  const realm = config.realm ?? 'service';
  if (typeof realm !== 'string') throw new TypeError('config.realm: expected a string');
  return Object.freeze({ anonymous, hide_credentials: hide, realm });
}

const BASIC = /\s*[Bb]asic\s*(.+)/;
const USER_PASSWORD = /([^:]+):(.*)/;
const BASE64_CHARS = /^[A-Za-z0-9+/]*$/;

/**
 * A base64 text decoded as nginx's `ngx.decode_base64` does (padding optional, any other
 * character refused), as UTF-8; null when it is not base64.
 */
function decodeBase64(text: string): string | null {
  const eq = text.indexOf('=');
  const body = eq === -1 ? text : text.slice(0, eq);
  if (!BASE64_CHARS.test(body) || body.length % 4 === 1) return null;
  if (eq !== -1 && !/^=*$/.test(text.slice(eq))) return null;
  return Buffer.from(body, 'base64').toString('utf8');
}

/** The user and password of a `Basic` header value (Kong's patterns: the password may hold `:`); null when it has none. */
export function parseBasicCredentials(value: string): { readonly username: string; readonly password: string } | null {
  const basic = BASIC.exec(value);
  if (basic === null) return null;
  const decoded = decodeBase64(basic[1]!);
  if (decoded === null) return null;
  const parts = USER_PASSWORD.exec(decoded);
  if (parts === null) return null;
  return { username: parts[1]!, password: parts[2]! };
}

/**
 * Kong's basic-auth (PRIORITY 1100, access): `Proxy-Authorization`, then `Authorization`, each
 * `Basic base64(user:password)`; the user's credential and a password matching its stored hash
 * (Kong's sha1, or Sluice's scrypt verified off the event loop, at most a few at once per process
 * ({@link SlowHashQueue}: 503 when its queue is full), each success remembered in the process's
 * bounded {@link PasswordVerificationCache}) attribute the request to its consumer.
 * Failures answer 401 `Unauthorized` with `WWW-Authenticate: Basic realm="<realm>"`, or, with
 * `anonymous`, authenticate the anonymous consumer (500 when it does not exist).
 * `hide_credentials` removes the `Authorization` header parsed (`Proxy-Authorization` is
 * hop-by-hop: Sluice never forwards it).
 */
export class BasicAuthHandler implements PluginHandler {
  readonly name = 'basic-auth';
  readonly priority: number;
  readonly config: BasicAuthConfig;
  private readonly challenge: Readonly<Record<string, string>>;

  constructor(
    config: BasicAuthConfig,
    private readonly verifications: PasswordVerificationCache,
    private readonly logger: PluginLogger,
    private readonly slowHashes: SlowHashQueue = new SlowHashQueue(),
    priority: number = BASIC_AUTH_PRIORITY,
  ) {
    this.config = config;
    this.priority = priority;
    this.challenge = Object.freeze({ 'WWW-Authenticate': `Basic realm="${config.realm}"` });
  }

  access(ctx: PluginContext): void | Promise<void> {
    if (this.config.anonymous !== null && ctx.credential !== null) return; // logical OR: another plugin authenticated
    const proxyHeader = ctx.request.get('proxy-authorization');
    const header = ctx.request.get('authorization');
    if (proxyHeader === undefined && header === undefined) return this.fail(ctx);
    let presented = proxyHeader === undefined ? null : parseBasicCredentials(proxyHeader);
    let record = presented === null ? undefined : ctx.consumers.basicAuthCredential(presented.username);
    if (record === undefined) {
      presented = header === undefined ? null : parseBasicCredentials(header);
      if (this.config.hide_credentials) ctx.request.clear('authorization');
      if (presented === null) return this.fail(ctx);
      record = ctx.consumers.basicAuthCredential(presented.username);
      if (record === undefined) return this.fail(ctx);
    }
    const { password } = presented!;
    const cacheKey = this.verifications.keyOf(record.credential.id, record.passwordHash, password);
    if (this.verifications.has(cacheKey)) return this.succeed(ctx, record);
    const verified = verifyPassword(record.passwordHash, password, record.credential.consumerId, this.slowHashes);
    if (verified === null) {
      // Too many slow hashes pending (a flood of wrong passwords is never cached): refuse, bounded.
      this.logger.warn({ plugin: this.name, queued: this.slowHashes.queued }, 'basic-auth password verifications saturated; answered 503');
      return ctx.answer(503);
    }
    if (typeof verified === 'boolean') {
      if (!verified) return this.fail(ctx);
      this.verifications.add(cacheKey);
      return this.succeed(ctx, record);
    }
    return verified.then((isMatch) => {
      if (!isMatch) return this.fail(ctx);
      this.verifications.add(cacheKey);
      this.succeed(ctx, record);
    });
  }

  private succeed(ctx: PluginContext, record: BasicAuthRecord): void {
    const consumer = ctx.consumers.consumer(record.credential.consumerId);
    if (consumer === undefined) throw new Error(`basic-auth credential ${record.credential.id} names consumer ${record.credential.consumerId}, which the config lacks`);
    ctx.authenticate(consumer, record.credential);
  }

  private fail(ctx: PluginContext): void {
    const anonymous = this.config.anonymous;
    if (anonymous === null) return ctx.answer(401, 'Unauthorized', this.challenge);
    const consumer = ctx.consumers.anonymousConsumer(anonymous);
    if (consumer === undefined) {
      const message = `anonymous consumer ${anonymous} is configured but doesn't exist`;
      this.logger.error({ plugin: this.name }, message);
      return ctx.answer(500, message);
    }
    ctx.authenticate(consumer, null);
  }
}

/** Kong's basic-auth PRIORITY (1100). */
export const BASIC_AUTH_PRIORITY = PLUGIN_DESCRIPTORS.get('basic-auth')?.priority ?? 1100;

/** Makes basic-auth handlers from `plugins` entities (sharing the process's verification cache). */
export const BASIC_AUTH_FACTORY: PluginFactory = {
  name: 'basic-auth',
  priority: BASIC_AUTH_PRIORITY,
  create: (plugin: Plugin, env: PluginEnv) => new BasicAuthHandler(basicAuthConfig(plugin.config), env.basicAuthVerifications, env.logger, env.basicAuthSlowHashes),
};
