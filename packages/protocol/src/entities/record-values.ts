/**
 * The JSON values of records, as the write pipeline handles them: copied without ever touching
 * `Object.prototype`, filled with defaults (nested records' too), merged for a PATCH (Kong's
 * `merge_values`), their deprecated shorthands moved to their paths on input and echoed on reads.
 * Pure.
 */
import { isDeepStrictEqual } from 'node:util';
import { compiledOnce } from './compiled-once.js';
import type { FieldErrors } from './field-errors.js';
import { type EntitySchema, type FieldSpec, type RecordFieldSpec, dedupeSet, isPlainObject } from './field-spec.js';
import { validateField } from './field-validation.js';

/** An empty object without a prototype: every key, `__proto__` included, is an own data property. */
export function bare(): Record<string, unknown> {
  return Object.create(null) as Record<string, unknown>;
}

/**
 * The prototype of {@link workingRecord}s: empty, frozen, itself without a prototype. Nothing is
 * inherited through it (no `__proto__` accessor, no `toString`, no `constructor`), so every key
 * written to a working record is an own data property, as in a {@link bare} one.
 */
const WORKING_RECORD_PROTOTYPE: object = Object.freeze(Object.create(null) as object);

/** The constructor of {@link workingRecord}s (a function, not a class: its `prototype` is replaced). */
const WorkingRecord = function WorkingRecord() {} as unknown as new () => Record<string, unknown>;
WorkingRecord.prototype = WORKING_RECORD_PROTOTYPE;

/**
 * An empty object for the write pipeline's own copies of an entity: like {@link bare}, every key
 * is an own data property and none is inherited, but V8 keeps it in fast mode (an object made by
 * `Object.create(null)` is a hash table from the start, about three times slower to fill, copy and
 * list). Its prototype is an empty null-prototype object, not `null`: never hand one out as a
 * result (errors and entities are {@link bare} or plain objects).
 */
export function workingRecord(): Record<string, unknown> {
  return new WorkingRecord();
}

/**
 * A deep copy of a JSON value (what request bodies and decoded entities are made of), so the
 * pipeline never mutates its input. Own enumerable keys only; an own `__proto__` key stays an own
 * key (assigning it would set the copy's prototype instead). Hand-written: JSON round-trips
 * dominated the data plane's validation of a large config. Recursive: request bodies are bounded
 * in depth before they get here (the Admin API's `MAX_BODY_DEPTH`).
 */
export function clone<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(clone) as T;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const copy = clone((value as Record<string, unknown>)[key]);
    if (key === '__proto__') Object.defineProperty(out, key, { value: copy, enumerable: true, writable: true, configurable: true });
    else out[key] = copy;
  }
  return out as T;
}

/** `value` stored under `key` as an own data property, even when `key` is `__proto__`. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** The record fields of a field spec, or null when it is not a concrete record. */
function recordFields(spec: FieldSpec): Readonly<Record<string, FieldSpec>> | null {
  return spec.type === 'record' ? spec.fields : null;
}

/** The value at `path` inside `record` (`undefined` when absent). */
function valueAt(record: Record<string, unknown>, path: readonly string[]): unknown {
  let node: unknown = record;
  for (const key of path) {
    if (!isPlainObject(node) || !Object.hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return node;
}

/** Sets `value` at `path` inside `record`, creating records on the way; false when a non-record is in the way. */
function setAt(record: Record<string, unknown>, path: readonly string[], value: unknown): boolean {
  let node = record;
  for (const key of path.slice(0, -1)) {
    const next = Object.hasOwn(node, key) ? node[key] : undefined;
    if (next === undefined || next === null) {
      const created: Record<string, unknown> = {};
      setOwn(node, key, created);
      node = created;
    } else if (isPlainObject(next)) node = next;
    else return false;
  }
  setOwn(node, path[path.length - 1] as string, value);
  return true;
}

/** Lua's `tostring` of a scalar, as Kong's shorthand mismatch message prints it. */
function luaText(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/**
 * Moves deprecated shorthands of nested records to their paths, in the input (before a PATCH
 * merges it), as Kong's `process_auto_fields` does. Errors are filed under the shorthand's own
 * name at the top level: Kong returns the nested record's shorthand errors as they are.
 */
export function expandRecordShorthands(fields: Readonly<Record<string, FieldSpec>>, data: Record<string, unknown>, errors: FieldErrors): void {
  for (const [name, spec] of Object.entries(fields)) {
    const nested = recordFields(spec);
    const record = Object.hasOwn(data, name) ? data[name] : undefined;
    if (nested === null || !isPlainObject(record)) continue;
    for (const [shorthand, def] of Object.entries((spec as RecordFieldSpec).shorthands ?? {})) {
      if (!Object.hasOwn(record, shorthand)) continue;
      const value = record[shorthand];
      const err = validateField(def.spec, value);
      if (err !== null) {
        errors[shorthand] = err;
        continue;
      }
      if (value !== null && value !== undefined) {
        const current = valueAt(record, def.path);
        if (current !== undefined && current !== null && !isDeepStrictEqual(current, value)) {
          errors[shorthand] =
            `both deprecated and new field are used but their values mismatch: ${shorthand} = ${luaText(value)} vs ${def.path.join('.')} = ${luaText(current)}`;
          continue;
        }
        if (current === undefined || current === null) setAt(record, def.path, value);
      }
      delete record[shorthand];
    }
    expandRecordShorthands(nested, record, errors);
  }
}

/**
 * Kong's `merge_values`: `top` over `bottom`, records merged field by field (arrays and other
 * values replaced whole).
 */
export function mergeValues(fields: Readonly<Record<string, FieldSpec>>, top: Record<string, unknown>, bottom: Record<string, unknown>): Record<string, unknown> {
  const out = Object.assign(bare(), bottom, top);
  for (const [name, spec] of Object.entries(fields)) {
    const nested = recordFields(spec);
    const t = Object.hasOwn(top, name) ? top[name] : undefined;
    const b = Object.hasOwn(bottom, name) ? bottom[name] : undefined;
    if (nested !== null && isPlainObject(t) && isPlainObject(b)) out[name] = mergeValues(nested, t, b);
  }
  return out;
}

/**
 * A field's value with defaults filled (an absent required record is produced whole from its
 * fields' defaults; an absent optional nested field is `null`, as Kong stores it), `null`
 * replaced by the default where the spec says so, and sets deduplicated. Records come back with
 * their fields in schema order, unknown keys after (validation refuses them). `undefined` when
 * the value is absent and nothing fills it.
 */
export type FieldNormalizer = (input: unknown) => unknown;

/**
 * The {@link FieldNormalizer} of `spec`, compiled on first use (what the spec says read once, as
 * `field-validation.ts` does for validation), then the same function.
 */
export const fieldNormalizer: (spec: FieldSpec) => FieldNormalizer = compiledOnce(compileNormalizer);

function compileNormalizer(spec: FieldSpec): FieldNormalizer {
  const nested = recordFields(spec);
  const fallback = spec.default;
  const isRequired = Boolean(spec.required);
  const nullMeansDefault = Boolean(spec.nullMeansDefault);
  const isList = spec.type === 'array' || spec.type === 'set';
  const isSet = spec.type === 'set';
  const normalizeElement = isList && spec.elements.type === 'record' ? fieldNormalizer(spec.elements) : null;
  const fields = nested === null ? [] : Object.entries(nested).map(([name, s]) => [name, fieldNormalizer(s), Boolean(s.required)] as const);
  return (input) => {
    let value = input;
    if (value === undefined) {
      if (fallback !== undefined) value = clone(fallback);
      else if (nested !== null && isRequired) value = {};
      else return undefined;
    }
    if (value === null) return nullMeansDefault ? clone(fallback) : null;
    if (isList && Array.isArray(value)) {
      const list = isSet ? dedupeSet(value) : value;
      return normalizeElement !== null ? list.map((e) => normalizeElement(e)) : list;
    }
    if (nested === null || !isPlainObject(value)) return value;
    const out: Record<string, unknown> = {};
    for (const [name, normalizeField, isFieldRequired] of fields) {
      const v = normalizeField(Object.hasOwn(value, name) ? value[name] : undefined);
      if (v !== undefined) setOwn(out, name, v);
      else if (!isFieldRequired) setOwn(out, name, null);
    }
    for (const key of Object.keys(value)) if (!Object.hasOwn(nested, key)) setOwn(out, key, value[key]);
    return out;
  };
}

/**
 * An entity as reads show it: the deprecated shorthands of its nested records echoed beside the
 * fields they alias (Kong's `process_auto_fields` in the `select` context), e.g. rate-limiting's
 * `config.redis_host` = `config.redis.host`. Returns a copy; the stored entity never has them.
 */
export function withShorthandEcho<T extends object>(schema: EntitySchema, entity: T): T {
  const echo = (fields: Readonly<Record<string, FieldSpec>>, source: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = { ...source };
    for (const [name, spec] of Object.entries(fields)) {
      const nested = recordFields(spec);
      const value = Object.hasOwn(source, name) ? source[name] : undefined;
      if (nested === null || !isPlainObject(value)) continue;
      const record = echo(nested, value);
      for (const [shorthand, def] of Object.entries((spec as RecordFieldSpec).shorthands ?? {})) {
        setOwn(record, shorthand, valueAt(record, def.path) ?? null);
      }
      out[name] = record;
    }
    return out;
  };
  return echo(schema.fields, entity as Record<string, unknown>) as T;
}
