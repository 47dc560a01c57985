/**
 * An entity as the Admin API shows it, which is its stored form except where Kong's entity
 * differs: the definition's own presentation first (a plugin's deprecated config shorthands echoed
 * beside the fields they stand for), then fields the kind hides (the credential kinds have no `updated_at` in Kong) are left out,
 * and a kind that expires shows Kong's relative `ttl` (seconds left, null when it never expires)
 * instead of its absolute expiry field.
 */
import { type AnyEntity, ENTITIES, type EntityDefinition, type EntityKind } from '@sluice/protocol';
import { CONTROL_PLANE_KINDS } from '../entities/kinds.js';

/** `entity` of `kind` for a response at `now` (integer seconds); see the module comment. */
export function presentEntity(kind: EntityKind, stored: object, now: number): object {
  const entity = (ENTITIES[kind] as EntityDefinition<AnyEntity>).present(stored as AnyEntity);
  const hidden = CONTROL_PLANE_KINDS[kind].hiddenFields ?? [];
  const expiresAtField = ENTITIES[kind].expiresAtField;
  if (hidden.length === 0 && expiresAtField === null) return entity;
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(entity)) {
    if (field !== expiresAtField && !hidden.includes(field)) out[field] = value;
  }
  if (expiresAtField !== null) {
    const expiresAt = (entity as unknown as Record<string, unknown>)[expiresAtField];
    out.ttl = typeof expiresAt === 'number' ? Math.max(0, expiresAt - now) : null;
  }
  return out;
}
