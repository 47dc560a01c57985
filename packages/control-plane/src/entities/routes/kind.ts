/** The control plane's side of `routes`. */
import type { ControlPlaneKind } from '../control-plane-kind.js';
import { ROUTES_TABLE } from './table.js';

export const ROUTES_KIND: ControlPlaneKind = { table: ROUTES_TABLE };
