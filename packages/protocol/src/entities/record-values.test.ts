import { describe, expect, it } from 'vitest';
import { workingRecord } from './record-values.js';

describe('workingRecord (the pipeline’s fast-mode copies)', () => {
  it('holds every key as an own data property and inherits nothing', () => {
    const record = workingRecord();
    for (const key of ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty']) {
      expect(record[key], key).toBeUndefined();
      expect(key in record, key).toBe(false);
      record[key] = key;
    }
    expect(Object.keys(record)).toEqual(['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty']);
    expect(Object.getOwnPropertyDescriptor(record, '__proto__')).toEqual({ value: '__proto__', writable: true, enumerable: true, configurable: true });
    expect(Object.getPrototypeOf(Object.getPrototypeOf(record))).toBeNull();
    expect(Object.isFrozen(Object.getPrototypeOf(record))).toBe(true);
    expect(({} as Record<string, unknown>).valueOf).toBe(Object.prototype.valueOf);
  });
});
