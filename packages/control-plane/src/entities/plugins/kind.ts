/** The control plane's side of `plugins`: its table, and Kong's protocol check on writes. */
import type { ControlPlaneKind } from '../control-plane-kind.js';
import { checkPluginProtocols } from './protocol-check.js';
import { PLUGINS_TABLE } from './table.js';

export const PLUGINS_KIND: ControlPlaneKind = { table: PLUGINS_TABLE, checkWrite: checkPluginProtocols };
