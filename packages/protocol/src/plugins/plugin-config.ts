/**
 * One plugin's config checked on its own, as the data plane re-checks configs on apply and as
 * tests build complete configs: the plugin entity pipeline run on `{name, config}`, so the config
 * gets exactly the defaults, messages and entity checks a `POST /plugins` would.
 */
import type { FieldErrors } from '../entities/field-errors.js';
import { PLUGINS } from '../entities/kinds/plugins.js';

/** The outcome of {@link preparePluginConfig}. */
export type PluginConfigResult<C> = { ok: true; config: C } | { ok: false; errors: FieldErrors };

const CHECK_ID = '00000000-0000-4000-8000-000000000000';

/**
 * Validates `config` for the plugin `name` and returns it complete (every default applied, keys
 * in schema order), or Kong's field errors (`{config: {foo: "unknown field"}}`, `@entity` checks,
 * `name` for an unknown plugin). `C` is the plugin's config type (`RateLimitingConfig`, …).
 */
export function preparePluginConfig<C = Record<string, unknown>>(name: string, config: unknown): PluginConfigResult<C> {
  const result = PLUGINS.prepare({ name, config }, { mode: 'create', now: 0, newId: CHECK_ID });
  return result.ok ? { ok: true, config: result.entity.config as C } : result;
}

/** The errors of `config` for the plugin `name`, or null when it is valid (see {@link preparePluginConfig}). */
export function validatePluginConfig(name: string, config: unknown): FieldErrors | null {
  const result = preparePluginConfig(name, config);
  return result.ok ? null : result.errors;
}

/**
 * `config` for the plugin `name` complete, every default applied: what the control plane stores
 * and sends for it. For callers whose config is known to be valid (tests, benchmarks, fixtures).
 * @throws TypeError naming the errors when it is not.
 */
export function completePluginConfig<C = Record<string, unknown>>(name: string, config: unknown): C {
  const result = preparePluginConfig<C>(name, config);
  if (!result.ok) throw new TypeError(`${name}: invalid config: ${JSON.stringify(result.errors)}`);
  return result.config;
}
