/**
 * Admin API request bodies: JSON, url-encoded forms and multipart forms, as Kong accepts them
 * (`kong/api/api_helpers.lua: parse_params`). Any other content type, or a body without one, is
 * refused with 415; a JSON body that does not parse to an object is `Cannot parse JSON body`.
 *
 * Bodies are read as bytes, never as text decoded with U+FFFD replacement: JSON must be UTF-8
 * (`json-body.ts`), and form keys and values keep invalid bytes for validation to refuse
 * (`decode-form-text.ts`). The limits are in `request-limits.ts`.
 */
import type { FastifyInstance } from 'fastify';
import { YAML_MEDIA_TYPES } from '../declarative/declarative-text.js';
import { FormArgumentError, HttpError } from '../errors.js';
import { decodeFormText } from './decode-form-text.js';
import { decodeFormPairs } from './form-arguments.js';
import { parseJsonBody } from './json-body.js';
import { MAX_FORM_ARGUMENTS } from './request-limits.js';

/** A parsed body: JSON is taken as typed; form values are strings until inferred by schema. */
export type RequestBody =
  | { kind: 'json'; value: Record<string, unknown> }
  | { kind: 'form'; args: Record<string, unknown> }
  /** A YAML body (`POST /config` only; entity endpoints answer it 415). Decoded as UTF-8. */
  | { kind: 'text'; text: string };

function tooManyArguments(): FormArgumentError {
  return new FormArgumentError('Too many arguments');
}

const AMPERSAND = 0x26;
const EQUALS = 0x3d;
const PLUS = 0x2b;
const PERCENT = 0x25;
const SPACE = 0x20;

function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  return -1;
}

/**
 * Percent-decodes one url-encoded component to text (WHATWG `application/x-www-form-urlencoded`:
 * `+` is a space, a `%` not followed by two hex digits stays as it is). The bytes are decoded with
 * {@link decodeFormText}, so invalid UTF-8 reaches validation instead of becoming U+FFFD.
 */
function decodeComponent(body: Uint8Array, start: number, end: number): string {
  const bytes = new Uint8Array(end - start);
  let n = 0;
  for (let i = start; i < end; i++) {
    const b = body[i] as number;
    if (b === PLUS) bytes[n++] = SPACE;
    else if (b === PERCENT && i + 2 < end && hexValue(body[i + 1]) >= 0 && hexValue(body[i + 2]) >= 0) {
      bytes[n++] = hexValue(body[i + 1]) * 16 + hexValue(body[i + 2]);
      i += 2;
    } else bytes[n++] = b;
  }
  return decodeFormText(bytes.subarray(0, n));
}

/** Splits a url-encoded body into `[key, value]` pairs (empty segments skipped, as URLSearchParams). */
function parseUrlEncoded(body: Uint8Array): RequestBody {
  const pairs: [string, string][] = [];
  let start = 0;
  while (start <= body.length) {
    let end = body.indexOf(AMPERSAND, start);
    if (end < 0) end = body.length;
    if (end > start) {
      if (pairs.length >= MAX_FORM_ARGUMENTS) throw tooManyArguments();
      let eq = body.indexOf(EQUALS, start);
      if (eq < 0 || eq > end) eq = end;
      pairs.push([decodeComponent(body, start, eq), eq < end ? decodeComponent(body, eq + 1, end) : '']);
    }
    start = end + 1;
  }
  return { kind: 'form', args: decodeFormPairs(pairs) };
}

/** Extracts the text fields of a `multipart/form-data` body (files are read as text too). */
function parseMultipart(body: Buffer, contentType: string): RequestBody {
  const boundaryMatch = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  const boundary = boundaryMatch?.[1] ?? boundaryMatch?.[2]?.trim();
  if (!boundary) throw new FormArgumentError('missing boundary in multipart/form-data content type');
  const delimiter = Buffer.from(`--${boundary}`);
  const pairs: [string, string][] = [];
  let pos = body.indexOf(delimiter);
  while (pos >= 0) {
    const start = pos + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, start);
    if (next < 0) break;
    const part = body.subarray(start, next);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd >= 0) {
      // Latin-1 keeps one character per byte, so the name's bytes can be decoded as form text.
      const headers = part.subarray(0, headerEnd).toString('latin1');
      let content = part.subarray(headerEnd + 4);
      if (content.subarray(-2).toString() === '\r\n') content = content.subarray(0, -2);
      const name = /content-disposition:[^\r\n]*?\bname="([^"]*)"/i.exec(headers)?.[1];
      if (name !== undefined) {
        if (pairs.length >= MAX_FORM_ARGUMENTS) throw tooManyArguments();
        pairs.push([decodeFormText(Buffer.from(name, 'latin1')), decodeFormText(content)]);
      }
    }
    pos = next;
  }
  return { kind: 'form', args: decodeFormPairs(pairs) };
}

/** Installs the Admin API's body parsers on a Fastify instance (replacing Fastify's defaults). */
export function installBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => {
    try {
      done(null, { kind: 'json', value: parseJsonBody(body as Buffer) } satisfies RequestBody);
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, (_req, body, done) => {
    try {
      done(null, parseUrlEncoded(body as Buffer));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addContentTypeParser([...YAML_MEDIA_TYPES], { parseAs: 'buffer' }, (_req, body, done) => {
    done(null, { kind: 'text', text: (body as Buffer).toString('utf8') } satisfies RequestBody);
  });
  app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (req, body, done) => {
    try {
      done(null, parseMultipart(body as Buffer, String(req.headers['content-type'] ?? '')));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}

/** The body of a write request; no body at all is an empty object (Kong: no type + no body → `{}`). */
export function bodyOf(body: unknown): RequestBody {
  if (body && typeof body === 'object' && 'kind' in body) return body as RequestBody;
  return { kind: 'json', value: {} };
}
