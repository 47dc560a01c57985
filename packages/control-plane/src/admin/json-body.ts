/**
 * A JSON request body parsed the way Kong's lua-cjson refuses what it cannot represent, every
 * refusal being 400 `{"message":"Cannot parse JSON body"}`:
 *
 * - the bytes are not UTF-8 (decoded with a fatal decoder, never rewritten to U+FFFD; a BOM is not
 *   skipped);
 * - objects and arrays nest deeper than {@link MAX_BODY_DEPTH} (cjson's `decode_max_depth`), checked
 *   on the text before `JSON.parse`, so no later recursive step can overflow the stack;
 * - a `\uXXXX` escape leaves a lone surrogate in a key or string (cjson: "invalid unicode escape");
 * - the top-level value is not an object.
 *
 * `JSON.parse` makes `"__proto__"` an own key (it never sets a prototype), which the entity
 * pipeline then refuses as `unknown field`.
 */
import { HttpError } from '../errors.js';
import { MAX_BODY_DEPTH } from './request-limits.js';

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A lone UTF-16 surrogate (in `u` mode a surrogate pair is one code point and does not match). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** A `\uD800`..`\uDFFF` escape: the only way a lone surrogate can appear in decoded UTF-8 JSON. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The deepest nesting of objects and arrays in `text`, stopping as soon as it exceeds `limit`. */
function exceedsDepth(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return false;
}

/** True when a key or string anywhere in `value` holds a lone surrogate. */
function hasLoneSurrogate(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (LONE_SURROGATE.test(v)) return true;
    } else if (Array.isArray(v)) {
      for (const element of v) stack.push(element);
    } else if (typeof v === 'object' && v !== null) {
      for (const [key, child] of Object.entries(v)) {
        if (LONE_SURROGATE.test(key)) return true;
        stack.push(child);
      }
    }
  }
  return false;
}

/** Parses a JSON body; see the module comment. */
export function parseJsonBody(body: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    const text = STRICT_UTF8.decode(body);
    // Fewer characters than the limit cannot nest deeper than it.
    if (text.length > MAX_BODY_DEPTH && exceedsDepth(text, MAX_BODY_DEPTH)) {
      throw new SyntaxError(`objects and arrays nested more than ${MAX_BODY_DEPTH} deep`);
    }
    value = JSON.parse(text);
    if (SURROGATE_ESCAPE.test(text) && hasLoneSurrogate(value)) throw new SyntaxError('invalid unicode escape (lone surrogate)');
  } catch (err) {
    throw HttpError.cannotParseJson(err);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw HttpError.cannotParseJson(new SyntaxError('not an object'));
  return value as Record<string, unknown>;
}
