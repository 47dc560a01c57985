/**
 * The control plane's side of every kind of the entity registry. A registry kind missing here does
 * not compile; the store's migrations include each table's own.
 */
import { ENTITY_KINDS, type EntityKind } from '@sluice/protocol';
import { CONSUMERS_KIND } from './consumers/kind.js';
import type { ControlPlaneKind } from './control-plane-kind.js';
import { ACLS_KIND, BASICAUTH_CREDENTIALS_KIND, KEYAUTH_CREDENTIALS_KIND } from './credentials/kinds.js';
import { PLUGINS_KIND } from './plugins/kind.js';
import type { EntityTable } from './entity-table.js';
import { ROUTES_KIND } from './routes/kind.js';
import { SERVICES_KIND } from './services/kind.js';

export const CONTROL_PLANE_KINDS: { readonly [K in EntityKind]: ControlPlaneKind } = {
  services: SERVICES_KIND,
  routes: ROUTES_KIND,
  consumers: CONSUMERS_KIND,
  plugins: PLUGINS_KIND,
  keyauth_credentials: KEYAUTH_CREDENTIALS_KIND,
  basicauth_credentials: BASICAUTH_CREDENTIALS_KIND,
  acls: ACLS_KIND,
};

/** Each kind's table. */
export const ENTITY_TABLES: { readonly [K in EntityKind]: EntityTable } = Object.freeze(
  Object.fromEntries(ENTITY_KINDS.map((kind) => [kind, CONTROL_PLANE_KINDS[kind].table])) as { [K in EntityKind]: EntityTable },
);
