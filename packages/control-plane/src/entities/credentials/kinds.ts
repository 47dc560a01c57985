/**
 * The control plane's side of the credential kinds: key-auth generates a key when the input has
 * none, basic-auth stores its password hashed, and none of them shows `updated_at` (Kong's
 * credential entities have no such field).
 */
import { isKongSha1Hash, parsePasswordHash } from '@sluice/protocol';
import { KongDaoError } from '../../errors.js';
import type { ControlPlaneKind } from '../control-plane-kind.js';
import { generateKey } from './generate-key.js';
import { hashPassword } from './hash-password.js';
import { ACLS_TABLE, BASICAUTH_CREDENTIALS_TABLE, KEYAUTH_CREDENTIALS_TABLE } from './tables.js';

/** The Admin API fields Kong's credential entities do not have. */
const CREDENTIAL_HIDDEN_FIELDS = ['updated_at'] as const;

/** The field error of an imported password that is not a hash Sluice recognises. */
export const NOT_A_PASSWORD_HASH = 'expected a password hash: 40 lower-case hex digits (Kong sha1) or $scrypt$ln=…,r=…,p=…$<salt>$<hash>';

/** The field error of a consumer change that would invalidate a Kong sha1 hash (salted with the consumer id). */
export const KONG_SHA1_NEEDS_PASSWORD = 'required to move a credential whose Kong sha1 hash is salted with its consumer id';

export const KEYAUTH_CREDENTIALS_KIND: ControlPlaneKind = {
  table: KEYAUTH_CREDENTIALS_TABLE,
  hiddenFields: CREDENTIAL_HIDDEN_FIELDS,
  // Kong fills `auto` fields on insert and upsert only: a PATCH keeps the stored key.
  fillInput(input, { mode, transform }) {
    if (!transform || mode === 'update' || (input.key !== undefined && input.key !== null)) return { ...input };
    return { ...input, key: generateKey() };
  },
};

export const BASICAUTH_CREDENTIALS_KIND: ControlPlaneKind = {
  table: BASICAUTH_CREDENTIALS_TABLE,
  hiddenFields: CREDENTIAL_HIDDEN_FIELDS,
  async transformInput(input, entity, { existing, transform }) {
    const password = entity.password as string;
    if (!transform) {
      if (parsePasswordHash(password) === null) throw KongDaoError.schemaViolation({ password: NOT_A_PASSWORD_HASH });
      return { ...input };
    }
    // Every password the Admin API receives is clear text (even one that looks like a hash).
    if (Object.hasOwn(input, 'password')) return { ...input, password: await hashPassword(password) };
    // A PATCH without a password keeps the hash. Scrypt carries its own salt; Kong's sha1 is
    // salted with the consumer id, so it cannot follow the credential to another consumer.
    const consumerId = (entity.consumer as { id: string }).id;
    const before = existing?.consumer as { id: string } | undefined;
    if (before !== undefined && before.id !== consumerId && isKongSha1Hash(password)) {
      throw KongDaoError.schemaViolation({ password: KONG_SHA1_NEEDS_PASSWORD });
    }
    return { ...input };
  },
};

export const ACLS_KIND: ControlPlaneKind = { table: ACLS_TABLE, hiddenFields: CREDENTIAL_HIDDEN_FIELDS };
