/** The control plane's side of `services`. */
import type { ControlPlaneKind } from '../control-plane-kind.js';
import { SERVICES_TABLE } from './table.js';

export const SERVICES_KIND: ControlPlaneKind = { table: SERVICES_TABLE };
