/**
 * Admin API request bodies: JSON, url-encoded forms and multipart forms, as Kong accepts them
 * (`kong/api/api_helpers.lua: parse_params`). Any other content type, or a body without one, is
 * refused with 415; a JSON body that does not parse to an object is `Cannot parse JSON body`.
 */
import type { FastifyInstance } from 'fastify';
import { HttpError } from '../errors.js';
import { MAX_FORM_ARGUMENTS, decodeFormPairs } from './form-arguments.js';

/** A parsed body: JSON is taken as typed; form values are strings until inferred by schema. */
export type RequestBody = { kind: 'json'; value: Record<string, unknown> } | { kind: 'form'; args: Record<string, unknown> };

function tooManyArguments(): HttpError {
  return new HttpError(400, 'Too many arguments');
}

function parseUrlEncoded(text: string): RequestBody {
  const params = new URLSearchParams(text);
  const pairs: [string, string][] = [];
  for (const pair of params) {
    pairs.push(pair);
    if (pairs.length > MAX_FORM_ARGUMENTS) throw tooManyArguments();
  }
  return { kind: 'form', args: decodeFormPairs(pairs) };
}

/** Extracts the text fields of a `multipart/form-data` body (files are read as text too). */
function parseMultipart(body: Buffer, contentType: string): RequestBody {
  const boundaryMatch = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  const boundary = boundaryMatch?.[1] ?? boundaryMatch?.[2]?.trim();
  if (!boundary) throw new HttpError(400, 'missing boundary in multipart/form-data content type');
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
      const headers = part.subarray(0, headerEnd).toString('utf8');
      let content = part.subarray(headerEnd + 4);
      if (content.subarray(-2).toString() === '\r\n') content = content.subarray(0, -2);
      const name = /content-disposition:[^\r\n]*?\bname="([^"]*)"/i.exec(headers)?.[1];
      if (name !== undefined) {
        pairs.push([name, content.toString('utf8')]);
        if (pairs.length > MAX_FORM_ARGUMENTS) throw tooManyArguments();
      }
    }
    pos = next;
  }
  return { kind: 'form', args: decodeFormPairs(pairs) };
}

/** Installs the Admin API's body parsers on a Fastify instance (replacing Fastify's defaults). */
export function installBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      const value: unknown = JSON.parse(body as string);
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SyntaxError('not an object');
      done(null, { kind: 'json', value: value as Record<string, unknown> } satisfies RequestBody);
    } catch (err) {
      done(HttpError.cannotParseJson(err), undefined);
    }
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseUrlEncoded(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
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
