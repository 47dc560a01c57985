/**
 * Kong's paginated list responses (`kong/api/endpoints.lua`, `strategies/postgres page`):
 * `?size` (default 100, 1..1000), `?offset=<token>`, and the body `{data, next, offset}` where
 * `next` is the URL of the following page and `offset` is present only when there is one. The
 * token is the unpadded base64url encoding of the JSON array of the last row's primary key.
 *
 * Other collections (e.g. `/clustering/data-planes`) reuse {@link parsePageParams},
 * {@link encodeOffset} and {@link pageResponse} so every list answers in the same shape.
 */
import { validateTag } from '@sluice/protocol';
import { KongDaoError } from '../errors.js';
import type { TagFilter } from '../store/index.js';

/** Page size when `?size` is absent. */
export const DEFAULT_PAGE_SIZE = 100;
/** Largest `?size` accepted. */
export const MAX_PAGE_SIZE = 1000;
/** Most tags one `?tags=` filter may name. */
export const MAX_FILTER_TAGS = 5;

/** Parsed pagination parameters. */
export interface PageParams {
  size: number;
  /** The decoded offset: the primary-key values after which the page starts, or `null`. */
  after: unknown[] | null;
  /** The tag filter, when `?tags=` was given and tags are allowed. */
  tags: TagFilter | null;
  /** The raw `size` and `tags` query values, echoed in the `next` link as Kong does. */
  rawSize: string | null;
  rawTags: string | null;
  /** The raw `offset` token, for error messages. */
  rawOffset: string | null;
}

/** The body of a paginated list response. */
export interface PageResponse<T> {
  data: T[];
  next: string | null;
  offset?: string;
}

const TAG_BYTES = '\\u0020-\\u002B\\u002D\\u002E\\u0030-\\u007E\\u0080-\\u{10FFFF}';
const TAGS_AND = new RegExp(`^([${TAG_BYTES}]+(?:,|$))+$`, 'u');
const TAGS_OR = new RegExp(`^([${TAG_BYTES}]+(?:/|$))+$`, 'u');

function first(value: unknown): string | undefined {
  if (Array.isArray(value)) return value.length > 0 ? String(value[0]) : undefined;
  return value === undefined ? undefined : String(value);
}

/** Lua's `tonumber` for query strings. */
function luaToNumber(value: string): number | undefined {
  const s = value.trim();
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return Number(s);
  if (/^0[xX][0-9a-fA-F]+$/.test(s)) return Number(s);
  return undefined;
}

/** Parses `?tags=`; Kong's codes and messages (code 11, `invalid option (tags: …)`). */
function parseTags(raw: string): TagFilter {
  if (raw === '') throw KongDaoError.invalidOptions({ tags: 'cannot be null' });
  let filter: TagFilter | null = null;
  if (TAGS_AND.test(raw)) filter = { mode: 'and', tags: raw.split(',').filter((t) => t !== '') };
  else if (TAGS_OR.test(raw)) filter = { mode: 'or', tags: raw.split('/').filter((t) => t !== '') };
  if (filter === null || filter.tags.some((t) => validateTag(t) !== null)) throw KongDaoError.invalidOptions({ tags: 'invalid filter syntax' });
  if (filter.tags.length > MAX_FILTER_TAGS) throw KongDaoError.invalidOptions({ tags: `cannot query more than ${MAX_FILTER_TAGS} tags` });
  return filter;
}

/** Decodes an offset token; code 7 when it is not base64url of a JSON array. */
export function decodeOffset(token: string): unknown[] {
  if (!/^[A-Za-z0-9_\-+/]*={0,2}$/.test(token) || token.length % 4 === 1) throw KongDaoError.invalidOffset(token, 'bad base64 encoding');
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token.replace(/\+/g, '-').replace(/\//g, '_'), 'base64url').toString('utf8'));
  } catch {
    throw KongDaoError.invalidOffset(token, 'bad json encoding');
  }
  if (!Array.isArray(decoded) || decoded.length === 0) throw KongDaoError.invalidOffset(token, 'bad json encoding');
  return decoded;
}

/** Encodes the primary key of the last row of a page as an offset token. */
export function encodeOffset(primaryKey: unknown[]): string {
  return Buffer.from(JSON.stringify(primaryKey), 'utf8').toString('base64url');
}

/**
 * Parses `size`, `tags` and `offset` in Kong's order (tags, size, offset). `allowTags` is false on
 * nested collections, where Kong ignores `?tags=`.
 */
export function parsePageParams(query: Record<string, unknown>, options: { allowTags: boolean }): PageParams {
  const rawTags = options.allowTags ? first(query.tags) : undefined;
  const tags = rawTags === undefined ? null : parseTags(rawTags);
  const sizeValue = query.size;
  let size = DEFAULT_PAGE_SIZE;
  let rawSize: string | null = null;
  if (sizeValue !== undefined) {
    const parsed = Array.isArray(sizeValue) ? undefined : luaToNumber(String(sizeValue));
    if (parsed === undefined) throw KongDaoError.invalidSize('size must be a number');
    if (!Number.isInteger(parsed) || parsed < 1 || parsed > MAX_PAGE_SIZE) {
      throw KongDaoError.invalidSize(`size must be an integer between 1 and ${MAX_PAGE_SIZE}`);
    }
    size = parsed;
    rawSize = String(sizeValue);
  }
  const offset = first(query.offset);
  const after = offset === undefined ? null : decodeOffset(offset);
  return { size, after, tags, rawSize, rawTags: rawTags ?? null, rawOffset: offset ?? null };
}

/** Percent-encodes like nginx's `ngx.escape_uri`: everything but `A-Za-z0-9-._~`. */
export function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Builds the response body of one page. `basePath` is the collection path (`/services`,
 * `/services/<key>/routes`); `lastKey` is the primary key of the last row when more rows follow.
 * `echoFilters` appends `&tags=` and `&size=` to `next` (top-level collections only, as Kong).
 */
export function pageResponse<T>(
  data: T[],
  options: { basePath: string; lastKey: unknown[] | null; params?: PageParams; echoFilters?: boolean },
): PageResponse<T> {
  if (options.lastKey === null) return { data, next: null };
  const offset = encodeOffset(options.lastKey);
  let next = `${options.basePath}?offset=${escapeUri(offset)}`;
  if (options.echoFilters && options.params) {
    if (options.params.rawTags !== null) next += `&tags=${escapeUri(options.params.rawTags)}`;
    if (options.params.rawSize !== null) next += `&size=${options.params.rawSize}`;
  }
  return { data, next, offset };
}
