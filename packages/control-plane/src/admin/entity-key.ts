/**
 * The `{id or endpoint key}` segment of an entity URL. The router has already percent-decoded it;
 * a UUID selects by primary key, anything else by the kind's endpoint key (`name` for services
 * and routes, `username` for consumers), which must be a valid value of that field (an invalid one
 * is 400 code 10 `invalid unique <field>`, not 404, as in Kong).
 */
import { ENTITIES, type EntityKind, type FieldSpec, isUuid, validateField } from '@sluice/protocol';
import { HttpError, KongDaoError } from '../errors.js';
import type { EntityKey } from '../store/index.js';

/** Parses an entity URL segment of `kind`; see the module comment. */
export function parseEntityKey(kind: EntityKind, segment: string): EntityKey {
  if (isUuid(segment)) return { id: segment.toLowerCase() };
  const field = ENTITIES[kind].endpointKey;
  if (field === null) throw HttpError.notFound();
  const spec = ENTITIES[kind].schema.fields[field] as FieldSpec;
  const problem = validateField({ ...spec, required: true }, segment);
  if (problem !== null) throw KongDaoError.invalidUnique(field, typeof problem === 'string' ? problem : 'invalid value');
  return { field, value: segment };
}

/** The key Kong prints in a not-found error for this key. */
export function keyForError(key: EntityKey): Record<string, string> {
  return 'id' in key ? { id: key.id } : { [key.field]: key.value };
}
