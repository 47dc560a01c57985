import { decodeQueryComponent } from '../query-args.js';

/** What a body holds under one name, as Kong's `kong.request.get_body()` table would: a string, several values, or something else. */
export type BodyValue = { readonly kind: 'string'; readonly value: string } | { readonly kind: 'many' } | { readonly kind: 'other' };

/** A request body parsed into named arguments (urlencoded, JSON or multipart, by Content-Type). */
export interface BodyArgs {
  /** What the body has under `name`; undefined when nothing. */
  get(name: string): BodyValue | undefined;
  /** The body re-serialized without `name` (key-auth's `hide_credentials`). */
  without(name: string): Buffer;
}

const MANY: BodyValue = Object.freeze({ kind: 'many' });
const OTHER: BodyValue = Object.freeze({ kind: 'other' });

function fromValues(values: readonly (string | true)[]): BodyValue | undefined {
  if (values.length === 0) return undefined;
  if (values.length > 1) return MANY;
  const v = values[0]!;
  return v === true ? OTHER : { kind: 'string', value: v };
}

function urlencoded(body: Buffer): BodyArgs {
  const text = body.toString('utf8');
  const args = text.split('&').filter((a) => a !== '');
  const nameOf = (arg: string): string => decodeQueryComponent(arg.split('=', 1)[0]!);
  return {
    get: (name) => fromValues(args.filter((a) => nameOf(a) === name).map((a) => (a.includes('=') ? decodeQueryComponent(a.slice(a.indexOf('=') + 1)) : true))),
    without: (name) => Buffer.from(args.filter((a) => nameOf(a) !== name).join('&')),
  };
}

function json(body: Buffer): BodyArgs | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const object = parsed as Record<string, unknown>;
  return {
    get(name) {
      if (Array.isArray(object) || !Object.hasOwn(object, name)) return undefined;
      const v = object[name];
      if (typeof v === 'string') return { kind: 'string', value: v };
      return typeof v === 'object' && v !== null ? MANY : OTHER;
    },
    without(name) {
      if (Array.isArray(object)) return body;
      const copy = { ...object };
      delete copy[name];
      return Buffer.from(JSON.stringify(copy));
    },
  };
}

interface Part {
  readonly name: string | null;
  /** The part's bytes, delimiter line included (latin1 text: byte for byte). */
  readonly raw: string;
  readonly value: string;
}

function multipart(body: Buffer, contentType: string): BodyArgs | null {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (boundary === undefined) return null;
  const text = body.toString('latin1');
  const delimiter = `--${boundary}`;
  const first = text.indexOf(delimiter);
  if (first === -1) return null;
  const parts: Part[] = [];
  let at = first;
  let end = -1;
  while (at !== -1) {
    const next = text.indexOf(`\r\n${delimiter}`, at + delimiter.length);
    if (next === -1) break;
    const raw = text.slice(at, next + 2);
    const headEnd = raw.indexOf('\r\n\r\n');
    if (headEnd !== -1) {
      const head = raw.slice(0, headEnd);
      const name = /content-disposition:[^\r\n]*;\s*name="([^"]*)"/i.exec(head)?.[1] ?? null;
      parts.push({ name: name === null ? null : Buffer.from(name, 'latin1').toString('utf8'), raw, value: Buffer.from(raw.slice(headEnd + 4, raw.length - 2), 'latin1').toString('utf8') });
    }
    at = next + 2;
    if (text.startsWith(`${delimiter}--`, at)) {
      end = at;
      break;
    }
  }
  if (end === -1) return null;
  const preamble = text.slice(0, first);
  const epilogue = text.slice(end);
  return {
    get: (name) => fromValues(parts.filter((p) => p.name === name).map((p) => p.value)),
    without: (name) => Buffer.from(preamble + parts.filter((p) => p.name !== name).map((p) => p.raw).join('') + epilogue, 'latin1'),
  };
}

/**
 * Parses a request body the way Kong's `kong.request.get_body()` does for the types it knows
 * (`application/x-www-form-urlencoded`, `application/json` with an object or array,
 * `multipart/form-data`); null for a missing or other Content-Type, or a body that does not parse
 * (Kong's get_body then errors, and key-auth answers 400).
 */
export function parseBodyArgs(body: Buffer, contentType: string | undefined): BodyArgs | null {
  if (contentType === undefined) return null;
  const type = contentType.toLowerCase();
  if (type.startsWith('application/x-www-form-urlencoded')) return urlencoded(body);
  if (type.startsWith('application/json')) return json(body);
  if (type.startsWith('multipart/form-data')) return multipart(body, contentType);
  return null;
}
