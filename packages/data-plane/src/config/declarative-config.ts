import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import {
  ConfigHash,
  ENTITY_TYPE_BY_KIND,
  encodeRoute,
  encodeService,
  isUuid,
  prepareRoute,
  prepareService,
  schemaViolationMessage,
  type ResourceMessage,
  type Route,
  type Service,
} from '@sluice/protocol';
import { DeclarativeConfigError } from '../errors.js';
import { applySnapshot } from './apply-snapshot.js';
import { ConfigOrigin, type RuntimeConfig } from './runtime-config.js';

/** The epoch a declarative config is served under (it never meets a control plane's epoch). */
export const DECLARATIVE_EPOCH = 'declarative';

/** Largest declarative config file read, in bytes (default 64 MiB). */
export const MAX_DECLARATIVE_CONFIG_BYTES = 64 * 1024 * 1024;

/** Most errors listed in one DeclarativeConfigError message (default 20). */
const MAX_LISTED_ERRORS = 20;

/** A name-derived UUID (v4-shaped, from sha256): entities without an id keep the same one across restarts. */
function derivedId(kind: string, key: string): string {
  const h = createHash('sha256').update(`sluice-declarative\0${kind}\0${key}`).digest();
  h[6] = (h[6] & 0x0f) | 0x40;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Builds a config from a declarative document in Kong's shape: `{ services: [...], routes: [...] }`,
 * where a service may also nest its `routes` (as in Kong's declarative format) and a route's
 * `service` is `{id}`, `{name}` or a name. Defaults are filled and every entity validated by the
 * same rules as the Admin API (`prepareService` / `prepareRoute`); an entity without an id gets one
 * derived from its name (or position), so restarts serve the same ids. `_format_version` and
 * other `_`-prefixed keys are ignored. Served as epoch `declarative`, version 1.
 *
 * Throws DeclarativeConfigError listing the faulty entities.
 */
export function buildDeclarativeConfig(document: unknown, options: { nowSeconds: number }): RuntimeConfig {
  if (!isObject(document)) throw new DeclarativeConfigError('a declarative config is a JSON object {services: [...], routes: [...]}');
  for (const key of Object.keys(document)) {
    if (!key.startsWith('_') && key !== 'services' && key !== 'routes') throw new DeclarativeConfigError(`unknown top-level key ${JSON.stringify(key)}`);
  }
  const servicesIn = document.services ?? [];
  const routesIn = document.routes ?? [];
  if (!Array.isArray(servicesIn) || !Array.isArray(routesIn)) throw new DeclarativeConfigError('services and routes must be arrays');

  const errors: string[] = [];
  const now = options.nowSeconds;
  const services: Service[] = [];
  const pendingRoutes: { where: string; input: Record<string, unknown>; serviceId?: string }[] = [];
  servicesIn.forEach((raw, i) => {
    const where = `services[${i}]`;
    if (!isObject(raw)) return void errors.push(`${where}: expected an object`);
    const { routes: nested, ...input } = raw;
    const newId = derivedId('services', typeof input.name === 'string' ? `name:${input.name}` : `index:${i}`);
    const result = prepareService(input, { mode: 'create', now, newId });
    if (!result.ok) return void errors.push(`${where}: ${schemaViolationMessage(result.errors)}`);
    services.push(result.entity);
    if (nested === undefined) return;
    if (!Array.isArray(nested)) return void errors.push(`${where}.routes: expected an array`);
    nested.forEach((r, j) => {
      if (!isObject(r)) errors.push(`${where}.routes[${j}]: expected an object`);
      else pendingRoutes.push({ where: `${where}.routes[${j}]`, input: r, serviceId: result.entity.id });
    });
  });
  routesIn.forEach((r, i) => {
    if (!isObject(r)) errors.push(`routes[${i}]: expected an object`);
    else pendingRoutes.push({ where: `routes[${i}]`, input: r });
  });

  const serviceIdByName = new Map<string, string>();
  for (const s of services) if (s.name !== null) serviceIdByName.set(s.name, s.id);
  const routes: Route[] = [];
  pendingRoutes.forEach(({ where, input, serviceId }, i) => {
    const data = { ...input };
    if (serviceId !== undefined) {
      if (data.service !== undefined) return void errors.push(`${where}: a nested route takes its service from its parent`);
      data.service = { id: serviceId };
    } else if (typeof data.service === 'string' || (isObject(data.service) && typeof data.service.name === 'string' && data.service.id === undefined)) {
      const name = typeof data.service === 'string' ? data.service : (data.service as { name: string }).name;
      const id = serviceIdByName.get(name);
      if (id === undefined) return void errors.push(`${where}: service ${JSON.stringify(name)} does not exist`);
      data.service = { id };
    }
    const newId = derivedId('routes', typeof data.name === 'string' ? `name:${data.name}` : `index:${i}`);
    const result = prepareRoute(data, { mode: 'create', now, newId });
    if (!result.ok) return void errors.push(`${where}: ${schemaViolationMessage(result.errors)}`);
    routes.push(result.entity);
  });

  const seen = new Set<string>();
  for (const [kind, list] of [['services', services], ['routes', routes]] as const) {
    for (const e of list) {
      if (!isUuid(e.id)) continue;
      if (seen.has(`${kind}/${e.id}`)) errors.push(`${kind} ${e.id}: id used twice`);
      seen.add(`${kind}/${e.id}`);
    }
  }
  if (errors.length > 0) throw declarativeError(errors);

  const hash = new ConfigHash();
  const upserts: ResourceMessage[] = [];
  for (const s of services) {
    const payload = encodeService(s);
    hash.set('services', s.id, payload);
    upserts.push({ type: ENTITY_TYPE_BY_KIND.services, id: s.id, version: 1, payload });
  }
  for (const r of routes) {
    const payload = encodeRoute(r);
    hash.set('routes', r.id, payload);
    upserts.push({ type: ENTITY_TYPE_BY_KIND.routes, id: r.id, version: 1, payload });
  }
  const result = applySnapshot({ upserts, removals: [] }, { epoch: DECLARATIVE_EPOCH, version: 1, hash: hash.bytes() }, { source: ConfigOrigin.DECLARATIVE });
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
 * Reads, parses and builds a declarative config file (JSON). Timestamps are the file's mtime, so
 * the same file always gives the same config hash. Throws DeclarativeConfigError.
 */
export async function loadDeclarativeConfig(path: string): Promise<RuntimeConfig> {
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
    document = JSON.parse(text);
  } catch (cause) {
    throw new DeclarativeConfigError(`declarative config ${path} is not JSON: ${(cause as Error).message}`, { cause });
  }
  return buildDeclarativeConfig(document, { nowSeconds: mtimeSeconds });
}
