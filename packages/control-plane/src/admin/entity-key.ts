/**
 * The `{id or name}` segment of an entity URL. The router has already percent-decoded it; a UUID
 * selects by primary key, anything else by the unique `name`, which must be a valid name (an
 * invalid one is 400 code 10 `invalid unique name`, not 404, as in Kong).
 */
import { isUuid, validateUtf8Name } from '@sluice/protocol';
import { KongDaoError } from '../errors.js';
import type { EntityKey } from '../store/index.js';

/** Parses an entity URL segment; see the module comment. */
export function parseEntityKey(segment: string): EntityKey {
  if (isUuid(segment)) return { id: segment.toLowerCase() };
  const problem = segment === '' ? 'length must be at least 1' : validateUtf8Name(segment);
  if (problem !== null) throw KongDaoError.invalidUnique('name', problem);
  return { name: segment };
}

/** The primary key Kong prints in a not-found error for this key. */
export function keyForError(key: EntityKey): Record<string, string> {
  return 'id' in key ? { id: key.id } : { name: key.name };
}
