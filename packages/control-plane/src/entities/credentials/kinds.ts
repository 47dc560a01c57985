/** The control plane's side of the credential kinds. */
import type { ControlPlaneKind } from '../control-plane-kind.js';
import { ACLS_TABLE, BASICAUTH_CREDENTIALS_TABLE, KEYAUTH_CREDENTIALS_TABLE } from './tables.js';

export const KEYAUTH_CREDENTIALS_KIND: ControlPlaneKind = { table: KEYAUTH_CREDENTIALS_TABLE };
export const BASICAUTH_CREDENTIALS_KIND: ControlPlaneKind = { table: BASICAUTH_CREDENTIALS_TABLE };
export const ACLS_KIND: ControlPlaneKind = { table: ACLS_TABLE };
