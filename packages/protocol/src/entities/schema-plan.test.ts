import { describe, expect, it } from 'vitest';
import type { FieldErrors } from './field-errors.js';
import { type EntitySchema, type FieldSpec, fieldSpecOf } from './field-spec.js';
import { clone, expandRecordShorthands } from './record-values.js';
import { ENTITY_KINDS, entityDefinition } from './registry.js';
import { AUTO_FIELDS, schemaPlan } from './schema-plan.js';

/** Every schema the pipeline validates with: each kind's, plugins by each plugin's subschema. */
function schemas(): [string, EntitySchema][] {
  const out: [string, EntitySchema][] = [];
  for (const kind of ENTITY_KINDS) {
    const schema = entityDefinition(kind).schema;
    out.push([kind, schema]);
    for (const [name, sub] of schema.subschemas?.schemas ?? []) out.push([`${kind}:${name}`, sub]);
  }
  return out;
}

/** Every record shorthand name declared anywhere in the registry's schemas. */
function allShorthandNames(fields: Readonly<Record<string, FieldSpec>>, into = new Set<string>()): Set<string> {
  for (const spec of Object.values(fields)) {
    if (spec.type !== 'record' || spec.fields === null) continue;
    for (const name of Object.keys(spec.shorthands ?? {})) into.add(name);
    allShorthandNames(spec.fields, into);
  }
  return into;
}

/** An input with every record field of `fields` present as a record carrying `keys` (each set to a string), nested records too. */
function recordsCarrying(fields: Readonly<Record<string, FieldSpec>>, keys: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(fields)) {
    if (spec.type !== 'record') continue;
    const record: Record<string, unknown> = spec.fields === null ? {} : recordsCarrying(spec.fields, keys);
    for (const key of keys) record[key] = 'x';
    out[name] = record;
  }
  return out;
}

describe('schemaPlan (what the write pipeline works out once per schema)', () => {
  it('lists exactly the schema’s own fields, in schema order', () => {
    for (const [label, schema] of schemas()) {
      const plan = schemaPlan(schema);
      expect(plan.fieldNames, label).toEqual(Object.keys(schema.fields));
      expect(plan.ownFields.map(([name]) => name), label).toEqual(Object.keys(schema.fields).filter((n) => !(AUTO_FIELDS as readonly string[]).includes(n)));
      expect(plan.required, label).toEqual(Object.entries(schema.fields).filter(([, s]) => s.required).map(([n]) => n));
      expect([...plan.validators.keys()], label).toEqual(Object.keys(schema.fields));
      for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) expect(plan.validators.has(name), `${label}.${name}`).toBe(fieldSpecOf(schema, name) !== undefined);
      expect(plan.shorthands.map(([name]) => name), label).toEqual(Object.keys(schema.shorthands));
      expect(schemaPlan(schema), label).toBe(plan);
    }
  });

  it('skips the record shorthand expansion only where it can do nothing: no record declares a shorthand', () => {
    const names = new Set<string>();
    for (const [, schema] of schemas()) allShorthandNames(schema.fields, names);
    expect(names.size).toBeGreaterThan(0);
    const withShorthands: string[] = [];
    for (const [label, schema] of schemas()) {
      if (schemaPlan(schema).hasRecordShorthands) {
        withShorthands.push(label);
        continue;
      }
      // Without the plan's skip the pipeline would run the expansion: it must change nothing and file nothing.
      const data = recordsCarrying(schema.fields, names);
      const before = clone(data);
      const errors = Object.create(null) as FieldErrors;
      expandRecordShorthands(schema.fields, data, errors);
      expect(data, label).toEqual(before);
      expect(Object.keys(errors), label).toEqual([]);
    }
    expect(withShorthands).toEqual(['plugins:rate-limiting']);
  });
});
