/** The control plane's side of `plugins`. */
import type { ControlPlaneKind } from '../control-plane-kind.js';
import { PLUGINS_TABLE } from './table.js';

export const PLUGINS_KIND: ControlPlaneKind = { table: PLUGINS_TABLE };
