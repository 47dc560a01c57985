import { readFile, stat } from 'node:fs/promises';
import { ConfigHash, ENTITY_TYPE_BY_KIND, encodeEntity, readDeclarativeDocument, type ResourceMessage } from '@sluice/protocol';
import { parse as parseYaml } from 'yaml';
import { DeclarativeConfigError } from '../errors.js';
import type { PluginRuntime } from '../plugins/plugin-factory.js';
import { applySnapshot } from './apply-snapshot.js';
import { ConfigOrigin, type RuntimeConfig } from './runtime-config.js';

/** The epoch a declarative config is served under (it never meets a control plane's epoch). */
export const DECLARATIVE_EPOCH = 'declarative';

/** Largest declarative config file read, in bytes (default 64 MiB). */
export const MAX_DECLARATIVE_CONFIG_BYTES = 64 * 1024 * 1024;

/** Most errors listed in one DeclarativeConfigError message (default 20). */
const MAX_LISTED_ERRORS = 20;

/**
 * Builds a config from a declarative document in Kong's format (`_format_version: "3.0"`): one
 * top-level list per entity kind, entities nested in their parent (`services[].routes[]`) or flat
 * with foreign fields by id or endpoint key, each validated by its kind's definition; the reader
 * is the control plane's (`readDeclarativeDocument` in `@sluice/protocol`), so a file `POST /config`
 * accepts is served here as it is. An entity without an id gets one derived from its first unique
 * field (or position), so restarts serve the same ids; timestamps the file gives are kept, others
 * are `nowSeconds`. Served as epoch `declarative`, version 1.
 *
 * Throws DeclarativeConfigError listing the faulty entities.
 */
export function buildDeclarativeConfig(document: unknown, options: { nowSeconds: number; plugins?: PluginRuntime }): RuntimeConfig {
  const read = readDeclarativeDocument(document, { nowSeconds: options.nowSeconds });
  if (!read.ok) throw declarativeError(read.errors.map((e) => (e.where === '' ? e.message : `${e.where}: ${e.message}`)));
  const hash = new ConfigHash();
  const upserts: ResourceMessage[] = [];
  for (const { kind, entity } of read.entities) {
    const payload = encodeEntity(kind, entity);
    hash.set(kind, entity.id, payload);
    upserts.push({ type: ENTITY_TYPE_BY_KIND[kind], id: entity.id, version: 1, payload });
  }
  const result = applySnapshot({ upserts, removals: [] }, { epoch: DECLARATIVE_EPOCH, version: 1, hash: hash.bytes() }, { source: ConfigOrigin.DECLARATIVE, plugins: options.plugins });
  if (!result.ok) {
    throw declarativeError(result.error.resourceErrors.map((e) => `${e.kind ?? e.type} ${e.id}: ${e.message}`).concat(result.error.resourceErrors.length ? [] : [result.error.message]));
  }
  return result.config;
}

function declarativeError(errors: string[]): DeclarativeConfigError {
  const more = errors.length > MAX_LISTED_ERRORS ? `; and ${errors.length - MAX_LISTED_ERRORS} more` : '';
  return new DeclarativeConfigError(`invalid declarative config: ${errors.slice(0, MAX_LISTED_ERRORS).join('; ')}${more}`);
}

/**
 * Parses declarative config text: JSON when it starts with `{` (after whitespace), else YAML (a
 * superset of JSON; Kong's files are usually `kong.yml`). YAML aliases are expanded up to the
 * `yaml` package's default bound, so a small file cannot expand into a huge document.
 */
export function parseDeclarativeText(text: string): unknown {
  if (/^\s*\{/.test(text)) return JSON.parse(text);
  return parseYaml(text, { prettyErrors: false });
}

/**
 * Reads, parses and builds a declarative config file (JSON or YAML). Timestamps the file does not
 * give are its mtime, so the same file always gives the same config hash. Throws DeclarativeConfigError.
 */
export async function loadDeclarativeConfig(path: string, options: { plugins?: PluginRuntime } = {}): Promise<RuntimeConfig> {
  let text: string;
  let mtimeSeconds: number;
  try {
    const info = await stat(path);
    if (info.size > MAX_DECLARATIVE_CONFIG_BYTES) throw new Error(`${info.size} bytes exceeds the limit of ${MAX_DECLARATIVE_CONFIG_BYTES} bytes`);
    mtimeSeconds = Math.floor(info.mtimeMs / 1000);
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new DeclarativeConfigError(`cannot read declarative config ${path}: ${(cause as Error).message}`, { cause });
  }
  let document: unknown;
  try {
    document = parseDeclarativeText(text);
  } catch (cause) {
    throw new DeclarativeConfigError(`declarative config ${path} is neither JSON nor YAML: ${(cause as Error).message}`, { cause });
  }
  return buildDeclarativeConfig(document, { nowSeconds: mtimeSeconds, plugins: options.plugins });
}
