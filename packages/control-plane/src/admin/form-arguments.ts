/**
 * Form bodies (`application/x-www-form-urlencoded`, `multipart/form-data`) decoded the way Kong's
 * Admin API decodes them (`kong/api/arguments.lua`, `arguments_decoder.lua`): repeated keys and
 * `a[]` / `a[1]` make arrays, `a.b` nests, and values are converted to the type of the schema field
 * they land in (`"80"` → 80, `"true"` → true, `""` → null). JSON bodies are never converted.
 *
 * Keys are hostile. Every object built here has no prototype, so `__proto__.tags=x` makes an own
 * key `__proto__` (refused later as `unknown field`) and never touches `Object.prototype`. Array
 * indexes are 1-based and at most {@link MAX_FORM_ARRAY_INDEX}; keys nest at most
 * {@link MAX_BODY_DEPTH} deep; work and memory stay proportional to the body, never to a number
 * written in it. Breaking a limit is a {@link FormArgumentError} (400).
 */
import { type EntitySchema, type FieldSpec, fieldSpecOf, schemaFor, shorthandSpecOf } from '@sluice/protocol';
import { FormArgumentError } from '../errors.js';
import { MAX_BODY_DEPTH, MAX_FORM_ARRAY_INDEX } from './request-limits.js';

type FormRecord = { [key: string]: FormValue };
type FormValue = string | FormValue[] | FormRecord;

/** Longest part of a key quoted in an error message, in characters. */
const MAX_QUOTED_KEY_CHARS = 64;

function quoteKey(key: string): string {
  return JSON.stringify(key.length > MAX_QUOTED_KEY_CHARS ? `${key.slice(0, MAX_QUOTED_KEY_CHARS)}...` : key);
}

/** An empty record without a prototype. */
function record(): FormRecord {
  return Object.create(null) as FormRecord;
}

function isRecord(value: FormValue | undefined): value is FormRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Splits `a.b[1][]` into path segments: `a`, `b`, `1`, `` (an empty segment means "append"). */
function splitKey(key: string): string[] {
  let separators = 0;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if ((c === 0x2e || c === 0x5b) && ++separators >= MAX_BODY_DEPTH) {
      throw new FormArgumentError(`invalid form argument ${quoteKey(key)}: keys nest at most ${MAX_BODY_DEPTH} levels deep`);
    }
  }
  const segments: string[] = [];
  for (const dotted of key.split('.')) {
    const m = /^([^[]*)((?:\[[^\]]*\])*)$/.exec(dotted);
    if (!m) {
      segments.push(dotted);
      continue;
    }
    segments.push(m[1] ?? '');
    for (const bracket of (m[2] ?? '').matchAll(/\[([^\]]*)\]/g)) segments.push(bracket[1] ?? '');
  }
  return segments;
}

/** The 0-based position of a numeric segment (`[3]` → 2), or a 400 when it is out of range. */
function arrayPosition(key: string, segment: string): number {
  const index = Number(segment);
  if (!(index >= 1 && index <= MAX_FORM_ARRAY_INDEX)) {
    throw new FormArgumentError(`invalid form argument ${quoteKey(key)}: array indexes must be between 1 and ${MAX_FORM_ARRAY_INDEX}`);
  }
  return index - 1;
}

/** Stores `value` at `segments` under `root`, creating records and arrays on the way. */
function setPath(root: FormRecord, key: string, segments: string[], value: string): void {
  let target = root;
  for (let i = 0; i < segments.length; i++) {
    const head = segments[i] as string;
    const isLast = i === segments.length - 1;
    if (isLast) {
      const current = target[head];
      if (current === undefined) target[head] = value;
      else if (Array.isArray(current)) current.push(value);
      else target[head] = [current, value];
      return;
    }
    const next = segments[i + 1] as string;
    if (next !== '' && !/^\d+$/.test(next)) {
      let child = target[head];
      if (!isRecord(child)) child = target[head] = record();
      target = child;
      continue;
    }
    let list = target[head];
    if (!Array.isArray(list)) list = target[head] = list === undefined ? [] : [list];
    const isListLast = i + 1 === segments.length - 1;
    if (next === '' && isListLast) {
      list.push(value);
      return;
    }
    const position = next === '' ? list.length : arrayPosition(key, next);
    if (isListLast) {
      list[position] = value;
      return;
    }
    let child = list[position];
    if (!isRecord(child)) child = list[position] = record();
    target = child;
    i++;
  }
}

/** Removes the holes `[N]` can leave, at every level, keeping the order of the rest. */
function compact(value: FormValue): FormValue {
  if (Array.isArray(value)) {
    const out: FormValue[] = [];
    for (const element of value) if (element !== undefined) out.push(compact(element));
    return out;
  }
  if (isRecord(value)) for (const k of Object.keys(value)) value[k] = compact(value[k] as FormValue);
  return value;
}

/**
 * Builds Kong's nested argument table from decoded `key=value` pairs: an object without a
 * prototype. Throws {@link FormArgumentError} when a key breaks a limit (see the module comment).
 */
export function decodeFormPairs(pairs: Iterable<[string, string]>): Record<string, unknown> {
  const out = record();
  for (const [key, value] of pairs) setPath(out, key, splitKey(key), value);
  return compact(out) as Record<string, unknown>;
}

/** Lua's `tonumber` on a string: decimal, exponent or hex, surrounding spaces allowed. */
function luaToNumber(value: string): number | undefined {
  const s = value.trim();
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return Number(s);
  if (/^[+-]?0[xX][0-9a-fA-F]+$/.test(s)) return s.startsWith('-') ? -Number(s.slice(1)) : Number(s.replace(/^\+/, ''));
  return undefined;
}

/** Kong's `infer_value`: converts one form value to the type of its field. */
export function inferValue(value: unknown, spec: FieldSpec | undefined): unknown {
  if (value === undefined || value === null || spec === undefined) return value;
  if (value === '') return null;
  switch (spec.type) {
    case 'integer':
    case 'number':
      return typeof value === 'string' ? (luaToNumber(value) ?? value) : value;
    case 'boolean':
      return value === 'true' ? true : value === 'false' ? false : value;
    case 'array':
    case 'set': {
      const list = Array.isArray(value) ? value : [value];
      return list.map((e) => inferValue(e, spec.elements));
    }
    case 'map':
      if (typeof value === 'object' && !Array.isArray(value)) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, inferValue(v, spec.values)]));
      }
      return value;
    case 'foreign':
      if (typeof value === 'object' && !Array.isArray(value)) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, v === '' ? null : v]));
      }
      return value;
    case 'record': {
      if (spec.fields === null || typeof value !== 'object' || Array.isArray(value)) return value;
      const fields = spec.fields;
      const out = Object.create(null) as Record<string, unknown>;
      for (const [k, v] of Object.entries(value)) {
        const nested = Object.hasOwn(fields, k) ? fields[k] : spec.shorthands && Object.hasOwn(spec.shorthands, k) ? spec.shorthands[k]?.spec : undefined;
        out[k] = inferValue(v, nested);
      }
      return out;
    }
    default:
      return value;
  }
}

/**
 * Converts every known field of a decoded form body to its schema type (a plugin's `config` to
 * the types of the plugin named by `name`, or by the `stored` entity's when a PATCH does not name
 * it, as Kong's `patch_plugin` reads the row first). Reads own keys only and returns an object
 * without a prototype (unknown keys are kept, for the pipeline to refuse).
 */
export function inferFormArguments(args: Record<string, unknown>, schema: EntitySchema, stored: object | null = null): Record<string, unknown> {
  const out = Object.create(null) as Record<string, unknown>;
  const key = schema.subschemas?.key;
  const effective = schemaFor(schema, key !== undefined && !Object.hasOwn(args, key) && stored !== null ? stored : args);
  for (const [name, value] of Object.entries(args)) {
    const spec = fieldSpecOf(effective, name) ?? shorthandSpecOf(effective, name);
    out[name] = spec ? inferValue(value, spec) : value;
  }
  return out;
}
