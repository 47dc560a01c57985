/**
 * Generators of hostile Admin API input for property tests, driven by a seeded PRNG so a failing
 * case is reproduced by its seed: form keys and values (prototype names, numeric, huge and
 * negative indexes, deep nesting, invalid UTF-8 bytes) and JSON texts (the same, plus lone
 * surrogate escapes and raw invalid bytes).
 */

/** A seeded pseudo-random source (mulberry32). */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** Keys that reach `Object.prototype` when handled carelessly, mixed with real field names. */
export const HOSTILE_NAMES = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '__defineSetter__',
  'isPrototypeOf',
  'name',
  'host',
  'port',
  'url',
  'path',
  'tags',
  'paths',
  'hosts',
  'methods',
  'headers',
  'service',
  'protocols',
  'id',
  'enabled',
  'retries',
  'x-foo',
  'a',
  '',
] as const;

/** Bracket contents: appends, valid, boundary, huge, negative and non-numeric indexes. */
const INDEXES = ['', '', '1', '2', '0', '999', '1000', '1001', '4294967295', '4294967296', '-1', '99999999999999999999', '1e3', '0x10', 'abc', '__proto__'];

/** Value fragments, percent-encoded: plain text, valid UTF-8 and invalid byte sequences. */
const VALUE_PARTS = [
  'h.example',
  '/x',
  'GET',
  'http',
  'https',
  'true',
  '80',
  '',
  'http%3A%2F%2Fh.example%3A81%2Fp',
  'polluted',
  '%FF',
  '%C3',
  '%C3%A9',
  '%ED%A0%80',
  '%F4%90%80%80',
  '%E5%86%86',
  '%C0%AF',
  '%F0%9F%9A%80',
  '%',
  '%G1',
  '+',
];

/** Nesting depths around the limit, and far beyond it. */
const DEEP = [999, 1000, 1001, 5000, 100_000];

/** A form key: usually a few segments, sometimes nested far too deep. */
export function formKey(rng: Rng): string {
  let key: string = rng.pick(HOSTILE_NAMES);
  if (rng.chance(0.04)) {
    const step = rng.pick(['.a', '[]', '[1]', '.__proto__']);
    return key + step.repeat(rng.pick(DEEP));
  }
  const segments = rng.int(4);
  for (let i = 0; i < segments; i++) key += rng.chance(0.5) ? `[${rng.pick(INDEXES)}]` : `.${rng.pick(HOSTILE_NAMES)}`;
  return key;
}

/** A percent-encoded form value. */
export function formValue(rng: Rng): string {
  let value = '';
  for (let i = 0, n = 1 + rng.int(3); i < n; i++) value += rng.pick(VALUE_PARTS);
  return value;
}

/** Tame pairs: real fields with plausible values, so that some cases make valid entities. */
const TAME_PAIRS: readonly [string, string][] = [
  ['tags', 'a'],
  ['tags[]', 'b%C3%A9'],
  ['tags[2]', '%F0%9F%9A%80'],
  ['tags', '%FF'],
  ['name', '%E5%86%86'],
  ['name', 'n%ED%A0%80'],
  ['retries', '3'],
  ['enabled', 'false'],
  ['port', '8080'],
  ['path', '/p'],
  ['methods', 'GET'],
  ['hosts[1]', 'h.example'],
  ['hosts[1000]', 'last.example'],
  ['headers.x-a', 'v'],
  ['strip_path', 'false'],
];

/**
 * Pairs of a form body (percent-encoded text): hostile pairs, and often a valid base plus tame
 * pairs only, so that some cases succeed.
 */
export function formPairs(rng: Rng, base: readonly [string, string][]): [string, string][] {
  const pairs: [string, string][] = rng.chance(0.6) ? [...base] : [];
  const isTame = pairs.length > 0 && rng.chance(0.4);
  for (let i = 0, n = 1 + rng.int(5); i < n; i++) pairs.push(isTame ? rng.pick(TAME_PAIRS) : [formKey(rng), formValue(rng)]);
  return pairs;
}

/** Percent-decodes a generated component to bytes (`+` is a space; a bad `%` stays). */
export function percentDecode(text: string): Buffer {
  const bytes = Buffer.from(text);
  const out = Buffer.alloc(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const hex = bytes[i] === 0x25 ? bytes.toString('latin1', i + 1, i + 3) : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      out[n++] = Number.parseInt(hex, 16);
      i += 2;
    } else out[n++] = bytes[i] === 0x2b ? 0x20 : (bytes[i] as number);
  }
  return out.subarray(0, n);
}

/** A url-encoded body; sometimes with raw (not percent-encoded) invalid bytes. */
export function urlEncodedBody(rng: Rng, pairs: [string, string][]): Buffer {
  const text = Buffer.from(pairs.map(([k, v]) => `${k}=${v}`).join('&'));
  if (!rng.chance(0.15)) return text;
  const at = rng.int(text.length + 1);
  return Buffer.concat([text.subarray(0, at), Buffer.from([rng.pick([0xff, 0xc3, 0xed, 0x80])]), text.subarray(at)]);
}

/** A multipart body of the same pairs, the values as raw bytes. */
export function multipartBody(pairs: [string, string][], boundary: string): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of pairs) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="`), percentDecode(k), Buffer.from('"\r\n\r\n'), percentDecode(v), Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(parts);
}

/** JSON string literals: plain, valid escapes, lone surrogate escapes. */
const JSON_STRINGS = ['"h.example"', '"/x"', '"GET"', '"http://hidden.example:81/p"', '"polluted"', '"\\u5186"', '"\\ud83d\\ude80"', '"\\ud800"', '"\\udfff"', '"a\\udc00b"', '""'];

function jsonValue(rng: Rng, depth: number): string {
  const roll = rng.int(depth > 2 ? 6 : 9);
  switch (roll) {
    case 0:
    case 1:
      return rng.pick(JSON_STRINGS);
    case 2:
      return rng.pick(['0', '-1', '80', '1.5', '1e308', '4294967295', '-99999999999999999999']);
    case 3:
      return rng.pick(['true', 'false', 'null']);
    case 4:
    case 5:
      return JSON.stringify(rng.pick(HOSTILE_NAMES));
    case 6:
    case 7: {
      const items: string[] = [];
      for (let i = 0, n = rng.int(4); i < n; i++) items.push(jsonValue(rng, depth + 1));
      return `[${items.join(',')}]`;
    }
    default:
      return jsonObject(rng, depth + 1, []);
  }
}

function jsonObject(rng: Rng, depth: number, base: readonly string[]): string {
  const members = [...base];
  for (let i = 0, n = rng.int(4); i < n; i++) members.push(`${JSON.stringify(rng.pick(HOSTILE_NAMES))}:${jsonValue(rng, depth)}`);
  if (rng.chance(0.05)) {
    const n = rng.pick(DEEP);
    members.push(`${JSON.stringify(rng.pick(HOSTILE_NAMES))}:${'['.repeat(n)}${']'.repeat(n)}`);
  }
  return `{${members.join(',')}}`;
}

/** A JSON body: an object with `base` members and hostile ones; sometimes raw invalid UTF-8. */
export function jsonBody(rng: Rng, base: readonly string[]): Buffer {
  const text = Buffer.from(rng.chance(0.03) ? rng.pick(['[]', '"x"', '{', '']) : jsonObject(rng, 1, base));
  if (!rng.chance(0.1)) return text;
  const quote = text.indexOf('"', rng.int(text.length));
  const at = quote < 0 ? text.length : quote + 1;
  return Buffer.concat([text.subarray(0, at), Buffer.from(rng.pick([[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]])), text.subarray(at)]);
}

/** Random bytes, biased towards UTF-8 lead and continuation bytes. */
export function randomBytes(rng: Rng): Uint8Array {
  const bytes = new Uint8Array(rng.int(12));
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = rng.pick([rng.int(0x80), 0x80 + rng.int(0x40), 0xc0 + rng.int(0x40), 0xe0, 0xed, 0xf0, 0xf4, 0xff]);
  }
  return bytes;
}
