/**
 * Form bodies (`application/x-www-form-urlencoded`, `multipart/form-data`) decoded the way Kong's
 * Admin API decodes them (`kong/api/arguments.lua`, `arguments_decoder.lua`): repeated keys and
 * `a[]` / `a[1]` make arrays, `a.b` nests, and values are converted to the type of the schema field
 * they land in (`"80"` → 80, `"true"` → true, `""` → null). JSON bodies are never converted.
 */
import type { EntitySchema, FieldSpec } from '@sluice/protocol';

/** Most form fields accepted in one body (Kong's `max_post_args`); more → 400 `Too many arguments`. */
export const MAX_FORM_ARGUMENTS = 1000;

type FormValue = string | FormValue[] | { [key: string]: FormValue };

/** Splits `a.b[1][]` into path segments: `a`, `b`, `1`, `` (an empty segment means "append"). */
function splitKey(key: string): string[] {
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

function isRecord(value: FormValue | undefined): value is { [key: string]: FormValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function setPath(target: { [key: string]: FormValue }, segments: string[], value: string): void {
  const [head, ...rest] = segments;
  if (head === undefined) return;
  if (rest.length === 0) {
    const current = target[head];
    if (current === undefined) target[head] = value;
    else if (Array.isArray(current)) current.push(value);
    else target[head] = [current, value];
    return;
  }
  const next = rest[0] ?? '';
  if (next === '' || /^\d+$/.test(next)) {
    let list = target[head];
    if (!Array.isArray(list)) list = target[head] = list === undefined ? [] : [list];
    if (next === '' && rest.length === 1) {
      list.push(value);
      return;
    }
    const index = next === '' ? list.length : Math.max(0, Number(next) - 1);
    if (rest.length === 1) {
      list[index] = value;
      return;
    }
    let child = list[index];
    if (!isRecord(child)) child = list[index] = {};
    setPath(child, rest.slice(1), value);
    return;
  }
  let child = target[head];
  if (!isRecord(child)) child = target[head] = {};
  setPath(child, rest, value);
}

/** Builds Kong's nested argument table from decoded `key=value` pairs. */
export function decodeFormPairs(pairs: Iterable<[string, string]>): Record<string, unknown> {
  const out: { [key: string]: FormValue } = {};
  for (const [key, value] of pairs) setPath(out, splitKey(key), value);
  for (const [k, v] of Object.entries(out)) if (Array.isArray(v)) out[k] = v.filter((e) => e !== undefined);
  return out;
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
    default:
      return value;
  }
}

/** Converts every known field of a decoded form body to its schema type. */
export function inferFormArguments(args: Record<string, unknown>, schema: EntitySchema): Record<string, unknown> {
  const out: Record<string, unknown> = { ...args };
  for (const [name, value] of Object.entries(out)) {
    const spec = schema.fields[name] ?? schema.shorthands[name];
    if (spec) out[name] = inferValue(value, spec);
  }
  return out;
}
