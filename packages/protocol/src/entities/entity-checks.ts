/**
 * Kong's entity checks (`Schema.entity_checkers` in `kong/db/schema/init.lua`) as data, in Kong's
 * own shape (`{ at_least_one_of: [...] }`), so the Admin API's schema endpoints serve them as Kong
 * does. Field names may be paths into records (`config.redis.host`).
 *
 * Run after field validation on the complete entity (defaults applied), in declaration order; each
 * failure appends its message to `@entity`, and a conditional also files its error under the
 * field it names (`config.header_name: required field missing`). A check whose path runs through a
 * value that is not a record (a `config` that is a string) is skipped: the record's own error
 * says what is wrong. On a PATCH, Kong's `validate_update` words two messages for the update:
 * `when updating, at least one of these fields must be non-empty: …` and `field required for
 * entity check when updating`.
 */
import { type FieldError, type FieldErrors, VALIDATION_MESSAGES, addEntityError } from './field-errors.js';
import { isNonEmpty } from './field-spec.js';

/** What a conditional compares a field with (Kong's `if_match` / `then_match`, the parts Sluice uses). */
export interface FieldMatch {
  readonly eq?: string | number | boolean | null;
  readonly one_of?: readonly (string | number)[];
  readonly required?: boolean;
}

/** Kong's `conditional`: when `if_field` matches `if_match`, `then_field` must match `then_match`. */
export interface ConditionalCheck {
  readonly if_field: string;
  readonly if_match: FieldMatch;
  readonly then_field: string;
  readonly then_match: FieldMatch;
}

/** One entity check, as Kong writes it in a schema's `entity_checks`. */
export type EntityCheck =
  | { readonly at_least_one_of: readonly string[] }
  | { readonly only_one_of: readonly string[] }
  | { readonly conditional: ConditionalCheck };

/** `'a', 'b'` (Kong's `quoted_list`, declaration order). */
function quotedList(fields: readonly string[]): string {
  return fields.map((f) => `'${f}'`).join(', ');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value at a dotted path: `undefined` when absent, `null` when set to null. */
function getPath(data: Record<string, unknown>, path: string): { value: unknown; isReachable: boolean } {
  const parts = path.split('.');
  let node: unknown = data;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = isRecord(node) && Object.hasOwn(node, parts[i] as string) ? node[parts[i] as string] : undefined;
    if (next === undefined || next === null) return { value: undefined, isReachable: true };
    if (!isRecord(next)) return { value: undefined, isReachable: false };
    node = next;
  }
  const last = parts[parts.length - 1] as string;
  return { value: isRecord(node) && Object.hasOwn(node, last) ? node[last] : undefined, isReachable: true };
}

/** Files `message` under a dotted path of the error tree (Kong's `set_field`); a string already there stays. */
function setError(errors: FieldErrors, path: string, message: string): void {
  const parts = path.split('.');
  let node: Record<string, FieldError> = errors;
  for (let i = 0; i < parts.length - 1; i++) {
    const key = parts[i] as string;
    const next = Object.hasOwn(node, key) ? node[key] : undefined;
    if (next === undefined) {
      const created = Object.create(null) as Record<string, FieldError>;
      node[key] = created;
      node = created;
    } else if (typeof next === 'object' && !Array.isArray(next)) node = next;
    else return;
  }
  node[parts[parts.length - 1] as string] = message;
}

function matches(match: FieldMatch, value: unknown): boolean {
  if (match.required && (value === null || value === undefined)) return false;
  if (match.eq !== undefined && value !== match.eq) return false;
  if (match.one_of !== undefined && !match.one_of.includes(value as string | number)) return false;
  return true;
}

/** The message Kong's `validate_field` gives a value that fails `match` (the subset above). */
function mismatchMessage(match: FieldMatch, value: unknown): string {
  if (match.required && (value === null || value === undefined)) return VALIDATION_MESSAGES.required;
  if (match.eq !== undefined && value !== match.eq) return `value must be ${match.eq === null ? 'null' : String(match.eq)}`;
  return `expected one of: ${(match.one_of ?? []).join(', ')}`;
}

function runConditional(check: ConditionalCheck, data: Record<string, unknown>, errors: FieldErrors, isUpdate: boolean): void {
  const ifValue = getPath(data, check.if_field);
  const thenValue = getPath(data, check.then_field);
  if (!ifValue.isReachable || !thenValue.isReachable) return;
  if (ifValue.value === undefined) {
    setError(errors, check.if_field, isUpdate ? 'field required for entity check when updating' : 'field required for entity check');
    return;
  }
  if (!matches(check.if_match, ifValue.value)) return;
  const then = thenValue.value === undefined ? null : thenValue.value;
  if (matches(check.then_match, then)) return;
  setError(errors, check.then_field, mismatchMessage(check.then_match, then));
  addEntityError(errors, `failed conditional validation given value of field '${check.if_field}'`);
}

/** Runs `checks` over a complete entity (`isUpdate` for a PATCH); see the module comment. */
export function runEntityChecks(checks: readonly EntityCheck[], data: Record<string, unknown>, errors: FieldErrors, isUpdate = false): void {
  for (const check of checks) {
    if ('conditional' in check) {
      runConditional(check.conditional, data, errors, isUpdate);
      continue;
    }
    const fields = 'at_least_one_of' in check ? check.at_least_one_of : check.only_one_of;
    const values = fields.map((f) => getPath(data, f));
    if (values.some((v) => !v.isReachable)) continue;
    const nonEmpty = values.filter((v) => isNonEmpty(v.value)).length;
    if ('at_least_one_of' in check) {
      if (nonEmpty === 0) addEntityError(errors, `${isUpdate ? 'when updating, ' : ''}at least one of these fields must be non-empty: ${quotedList(fields)}`);
    } else if (values.every((v) => v.value !== undefined) && nonEmpty !== 1) {
      addEntityError(errors, `exactly one of these fields must be non-empty: ${quotedList(fields)}`);
    }
  }
}
