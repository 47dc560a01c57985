/**
 * Property tests for issue 9 "Hostile input": random form keys and JSON bodies (prototype names,
 * numeric, huge and negative indexes, deep nesting, invalid UTF-8) fed to the body decoders and to
 * the real Admin API. The properties: the answer is a 2xx with a valid entity or a 4xx with Kong's
 * body, never a 500 nor a thrown error; no case changes what any other request sees; and each
 * request is answered within {@link CASE_BOUND_MS}.
 *
 * The seed is printed with every failure; rerun one with `SLUICE_PROPERTY_SEED=<seed>`.
 */
import { performance } from 'node:perf_hooks';
import { type EntitySchema, ROUTE_SCHEMA, SERVICE_SCHEMA, prepareRoute, prepareService, schemaViolationMessage } from '@sluice/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeFormText } from '../src/admin/decode-form-text.js';
import { decodeFormPairs, inferFormArguments } from '../src/admin/form-arguments.js';
import { parseJsonBody } from '../src/admin/json-body.js';
import { FormArgumentError, HttpError } from '../src/errors.js';
import type { Store } from '../src/store/index.js';
import { type TestAdmin, buildTestAdmin } from './support/admin.js';
import { describeEachDatabase } from './support/databases.js';
import { HOSTILE_NAMES, Rng, formPairs, jsonBody, multipartBody, percentDecode, randomBytes, urlEncodedBody } from './support/hostile-input.js';

/**
 * Per-case time bound, in ms: generous on purpose (a loaded CI machine answers in tens of ms); the
 * defects it guards took minutes (a 2^32 sparse array) or overflowed the stack.
 */
const CASE_BOUND_MS = 2000;

const SEED = Number(process.env.SLUICE_PROPERTY_SEED ?? 20250609);
const DECODER_CASES = 600;
const ENDPOINT_CASES = 120;

const OPTS = { now: 1000, newId: '00000000-0000-4000-8000-000000000001' } as const;

/** What a JSON text shows of a lone surrogate (JSON.stringify escapes them). */
const ESCAPED_LONE_SURROGATE = /\\ud[89a-f][0-9a-f]{2}/i;

const PROTOTYPE_NAMES_BEFORE = Object.getOwnPropertyNames(Object.prototype).sort();

function expectPrototypeUntouched(context: string): void {
  expect(Object.getOwnPropertyNames(Object.prototype).sort(), context).toEqual(PROTOTYPE_NAMES_BEFORE);
  for (const name of HOSTILE_NAMES) {
    if (!PROTOTYPE_NAMES_BEFORE.includes(name)) expect(({} as Record<string, unknown>)[name], `${context}: Object.prototype.${name}`).toBeUndefined();
  }
}

/** Every object of a decoded form has no prototype and every array has no hole. */
function expectBareTree(value: unknown, context: string): void {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      expect(Object.keys(v).length, `${context}: holes in an array`).toBe(v.length);
      for (const e of v) stack.push(e);
    } else if (typeof v === 'object' && v !== null) {
      expect(Object.getPrototypeOf(v), `${context}: a prototype`).toBeNull();
      for (const k of Object.keys(v)) stack.push((v as Record<string, unknown>)[k]);
    }
  }
}

/** Runs the entity pipeline on decoded input: it returns an entity or Kong's errors, never throws. */
function expectPipelineAnswers(schema: EntitySchema, input: Record<string, unknown>, context: string): void {
  const prepare = schema === SERVICE_SCHEMA ? prepareService : prepareRoute;
  const result = prepare(input, { mode: 'create', ...OPTS });
  if (result.ok) {
    expect(Object.keys(result.entity).sort(), context).toEqual(Object.keys(schema.fields).sort());
    expect(JSON.stringify(result.entity), context).not.toMatch(ESCAPED_LONE_SURROGATE);
  } else {
    expect(Object.keys(result.errors).length, context).toBeGreaterThan(0);
    expect(schemaViolationMessage(result.errors), context).not.toMatch(/^0 schema violations/);
  }
}

/** Times `fn` and checks the bound. */
function timed<T>(context: string, fn: () => T): T {
  const started = performance.now();
  const result = fn();
  expect(performance.now() - started, `${context}: took too long`).toBeLessThan(CASE_BOUND_MS);
  return result;
}

/** Re-encodes decoded form text to bytes: escaped bytes (U+DC80..U+DCFF) back to themselves. */
function encodeFormText(text: string): Buffer {
  const out: Buffer[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0) as number;
    out.push(cp >= 0xdc80 && cp <= 0xdcff ? Buffer.from([cp - 0xdc00]) : Buffer.from(ch));
  }
  return Buffer.concat(out);
}

describe('body decoders under hostile input (property)', () => {
  it(`decode form text losslessly, and exactly as UTF-8 when it is valid (seed ${SEED})`, () => {
    const rng = new Rng(SEED);
    const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    for (let i = 0; i < DECODER_CASES; i++) {
      const bytes = randomBytes(rng);
      const context = `seed ${SEED} case ${i}: ${Buffer.from(bytes).toString('hex')}`;
      const text = decodeFormText(bytes);
      expect(encodeFormText(text).equals(Buffer.from(bytes)), context).toBe(true);
      let valid: string | null = null;
      try {
        valid = strict.decode(bytes);
      } catch {
        valid = null;
      }
      if (valid !== null) expect(text, context).toBe(valid);
      else expect(text, context).toMatch(/[\uDC80-\uDCFF]/u);
    }
  });

  it(`build prototype-less, hole-free forms or refuse them with a FormArgumentError (seed ${SEED})`, () => {
    const rng = new Rng(SEED + 1);
    for (let i = 0; i < DECODER_CASES; i++) {
      const schema = rng.pick([SERVICE_SCHEMA, ROUTE_SCHEMA]);
      const pairs = formPairs(rng, schema === SERVICE_SCHEMA ? [['host', 'h.example']] : [['paths', '/p']]);
      const decoded = pairs.map(([k, v]) => [decodeFormText(percentDecode(k)), decodeFormText(percentDecode(v))] as [string, string]);
      const context = `seed ${SEED + 1} case ${i}: ${JSON.stringify(pairs).slice(0, 300)}`;
      let args: Record<string, unknown> | null = null;
      try {
        args = timed(context, () => decodeFormPairs(decoded));
      } catch (err) {
        expect(err, context).toBeInstanceOf(FormArgumentError);
        expect((err as FormArgumentError).statusCode, context).toBe(400);
      }
      if (args !== null) {
        expectBareTree(args, context);
        const input = inferFormArguments(args, schema);
        timed(context, () => expectPipelineAnswers(schema, input, context));
      }
      expectPrototypeUntouched(context);
    }
  });

  it(`parse JSON bodies into objects or refuse them with Cannot parse JSON body (seed ${SEED})`, () => {
    const rng = new Rng(SEED + 2);
    for (let i = 0; i < DECODER_CASES; i++) {
      const schema = rng.pick([SERVICE_SCHEMA, ROUTE_SCHEMA]);
      const body = jsonBody(rng, schema === SERVICE_SCHEMA ? ['"host":"h.example"'] : ['"paths":["/p"]']);
      const context = `seed ${SEED + 2} case ${i}: ${body.toString('latin1').slice(0, 300)}`;
      let value: Record<string, unknown> | null = null;
      try {
        value = timed(context, () => parseJsonBody(body));
      } catch (err) {
        expect(err, context).toBeInstanceOf(HttpError);
        expect((err as HttpError).body, context).toEqual({ message: 'Cannot parse JSON body' });
      }
      if (value !== null) {
        const input = value;
        timed(context, () => expectPipelineAnswers(schema, input, context));
      }
      expectPrototypeUntouched(context);
    }
  });
});

describeEachDatabase('admin api under hostile input (property)', (env) => {
  let store: Store;
  let admin: TestAdmin;
  let controlBody: string;

  beforeAll(async () => {
    await env.reset();
    store = await env.openStore();
    admin = await buildTestAdmin(store);
    const control = await admin.json('POST', '/services', { name: 'control', host: 'control.example', tags: ['control'] });
    expect(control.statusCode).toBe(201);
    controlBody = control.body;
    expect((await admin.json('POST', '/services', { name: 'victim', host: 'victim.example' })).statusCode).toBe(201);
  });

  /** A Kong error body: a DAO error `{code, name, message, fields?}` or `{message}`. */
  function expectKongErrorBody(status: number, text: string, context: string): void {
    if (status === 415) return expect(text, context).toBe('');
    const body = JSON.parse(text) as Record<string, unknown>;
    expect(typeof body.message, context).toBe('string');
    if ('code' in body) {
      expect(typeof body.code, context).toBe('number');
      expect(typeof body.name, context).toBe('string');
      if (body.code === 2) {
        expect(body.message, context).not.toMatch(/^0 schema violations/);
        expect(Object.keys(body.fields as object).length, context).toBeGreaterThan(0);
      }
    } else expect(Object.keys(body), context).toEqual(['message']);
  }

  it(`answers every case with a valid entity or a Kong 4xx, and leaves other requests unchanged (seed ${SEED})`, async () => {
    const rng = new Rng(SEED + 3);
    const targets = [
      { method: 'POST', url: '/services', schema: SERVICE_SCHEMA },
      { method: 'POST', url: '/routes', schema: ROUTE_SCHEMA },
      { method: 'POST', url: '/services/victim/routes', schema: ROUTE_SCHEMA },
      { method: 'PATCH', url: '/services/victim', schema: SERVICE_SCHEMA },
      { method: 'PUT', url: '/services/put-target', schema: SERVICE_SCHEMA },
    ] as const;
    for (let i = 0; i < ENDPOINT_CASES; i++) {
      const target = rng.pick(targets);
      const isService = target.schema === SERVICE_SCHEMA;
      const encoding = rng.pick(['json', 'json', 'form', 'form', 'multipart'] as const);
      let payload: Buffer;
      let contentType: string;
      if (encoding === 'json') {
        payload = jsonBody(rng, isService ? ['"host":"h.example"'] : ['"paths":["/p"]']);
        contentType = 'application/json';
      } else {
        const pairs = formPairs(rng, isService ? [['host', 'h.example']] : [['paths', '/p']]);
        payload = encoding === 'form' ? urlEncodedBody(rng, pairs) : multipartBody(pairs, 'pr0perty');
        contentType = encoding === 'form' ? 'application/x-www-form-urlencoded' : 'multipart/form-data; boundary=pr0perty';
      }
      const context = `seed ${SEED + 3} case ${i}: ${target.method} ${target.url} ${encoding} ${payload.toString('latin1').slice(0, 300)}`;

      const started = performance.now();
      const res = await admin.request({ method: target.method, url: target.url, headers: { 'content-type': contentType }, payload });
      expect(performance.now() - started, `${context}: took too long`).toBeLessThan(CASE_BOUND_MS);
      expect(res.statusCode, `${context}: ${res.body}`).toBeLessThan(500);
      if (res.statusCode >= 400) expectKongErrorBody(res.statusCode, res.body, context);
      else {
        expect(res.body, context).not.toMatch(ESCAPED_LONE_SURROGATE);
        expect(Object.keys(res.json()).sort(), context).toEqual(Object.keys(target.schema.fields).sort());
      }
      expectPrototypeUntouched(context);

      // Control requests: what they see must not depend on the hostile case before them.
      const control = await admin.request({ method: 'GET', url: '/services/control' });
      expect(control.body, context).toBe(controlBody);
      const created = await admin.json('POST', '/services', { name: `control-${i}`, host: 'control.example', tags: ['control'] });
      expect(created.statusCode, `${context}: ${created.body}`).toBe(201);
      const listed = await admin.request({ method: 'GET', url: `/services?tags=control&size=1000` });
      const names = (listed.json().data as { name: string }[]).map((s) => s.name);
      expect(names, context).toContain(`control-${i}`);
      expect(names, context).toContain('control');
    }
  });
});
