/**
 * Kong's validation error tree and the schema-violation message built from it
 * (`kong/db/errors.lua: schema_violation`).
 *
 * A field error is a message, an array of element errors indexed by position (`null` for a valid
 * element), or an object of nested errors (records, foreign keys). Entity-level errors are an array
 * of messages under the key `"@entity"`.
 */
export type FieldError = string | (FieldError | null)[] | { [key: string]: FieldError };

/** The `fields` object of a Kong schema-violation body. */
export type FieldErrors = { [field: string]: FieldError };

/** The key Kong files entity-level (cross-field) errors under. */
export const ENTITY_ERRORS_KEY = '@entity';

/** Kong's generic validation messages (`kong/db/schema/init.lua: validation_errors`). */
export const VALIDATION_MESSAGES = {
  array: 'expected an array',
  set: 'expected a set',
  map: 'expected a map',
  record: 'expected a record',
  string: 'expected a string',
  number: 'expected a number',
  boolean: 'expected a boolean',
  integer: 'expected an integer',
  required: 'required field missing',
  unknown: 'unknown field',
  uuid: 'expected a valid UUID',
  timestamp: 'expected a valid timestamp',
  missingPrimaryKey: 'missing primary key',
  mustBeNull: 'value must be null',
} as const;

/** Appends an entity-level error, as Kong's `insert_entity_error` does. */
export function addEntityError(errors: FieldErrors, message: string): void {
  const list = errors[ENTITY_ERRORS_KEY];
  if (Array.isArray(list)) list.push(message);
  else errors[ENTITY_ERRORS_KEY] = [message];
}

/** True when the error tree holds no error. */
export function hasErrors(errors: FieldErrors): boolean {
  return Object.keys(errors).length > 0;
}

/**
 * Renders a nested error table the way Penlight's `pretty.write(t, "")` prints a Lua table: keys
 * sorted, strings quoted, array elements positional.
 */
export function formatLuaTable(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return `{${value.map((v) => formatLuaTable(v)).join(',')}}`;
  const entries = Object.keys(value)
    .sort()
    .map((k) => `${/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? k : `[${JSON.stringify(k)}]`}=${formatLuaTable((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

const LUA_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Renders a nested error table the way Penlight's `pretty.write(t)` prints it with its default
 * two-space indent (what Kong's schema-violation message uses below the first level of nesting):
 * one entry per line, `key = value`, array positions first (up to the first hole), then keys
 * sorted, then the remaining positions as `[n] = value`.
 */
export function formatLuaPretty(value: unknown, indent = ''): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value !== 'object') return String(value);
  const inner = `${indent}  `;
  const lines: string[] = [];
  if (Array.isArray(value)) {
    let i = 0;
    for (; i < value.length && value[i] !== null && value[i] !== undefined; i++) lines.push(`${inner}${formatLuaPretty(value[i], inner)}`);
    for (let j = i; j < value.length; j++) {
      if (value[j] !== null && value[j] !== undefined) lines.push(`${inner}[${j + 1}] = ${formatLuaPretty(value[j], inner)}`);
    }
  } else {
    for (const k of Object.keys(value).sort()) {
      const key = LUA_IDENTIFIER.test(k) ? k : `[${JSON.stringify(k)}]`;
      lines.push(`${inner}${key} = ${formatLuaPretty((value as Record<string, unknown>)[k], inner)}`);
    }
  }
  return lines.length === 0 ? '{}' : `{\n${lines.join(',\n')}\n${indent}}`;
}

/** Lua-style sorted keys of an error node: array positions become 1-based indices. */
function subKeys(node: FieldError): [string, FieldError][] {
  if (Array.isArray(node)) {
    const out: [string, FieldError][] = [];
    node.forEach((v, i) => {
      if (v !== null) out.push([String(i + 1), v]);
    });
    return out;
  }
  if (typeof node === 'object') {
    return Object.keys(node)
      .sort()
      .map((k) => [k, node[k] as FieldError]);
  }
  return [];
}

/**
 * Builds Kong's schema-violation message: entity errors first, then fields in sorted order, one
 * level of nesting spelled `parent.key` (deeper levels pretty-printed as a Lua table:
 * `config.redis: {\n  host = "required field missing"\n}`); one error → `schema violation (X)`, more →
 * `N schema violations (X; Y)`.
 */
export function schemaViolationMessage(errors: FieldErrors): string {
  const parts: string[] = [];
  const entity = errors[ENTITY_ERRORS_KEY];
  if (Array.isArray(entity)) for (const e of entity) if (typeof e === 'string') parts.push(e);
  for (const name of Object.keys(errors).sort()) {
    if (name === ENTITY_ERRORS_KEY) continue;
    const node = errors[name] as FieldError;
    if (typeof node === 'string') {
      parts.push(`${name}: ${node}`);
      continue;
    }
    for (const [key, value] of subKeys(node)) {
      parts.push(`${name}.${key}: ${typeof value === 'string' ? value : formatLuaPretty(value)}`);
    }
  }
  return parts.length === 1 ? `schema violation (${parts[0]})` : `${parts.length} schema violations (${parts.join('; ')})`;
}
