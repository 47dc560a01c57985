/** The control plane's side of `consumers`: its table, and Kong's `GET /consumers?custom_id=x`. */
import { HttpError } from '../../errors.js';
import type { ControlPlaneKind } from '../control-plane-kind.js';
import { CONSUMERS_TABLE } from './table.js';

export const CONSUMERS_KIND: ControlPlaneKind = {
  table: CONSUMERS_TABLE,
  // kong/api/routes/consumers.lua: a custom_id that is not one non-empty string is a 400.
  listLookup(query) {
    const customId = query.custom_id;
    if (customId === undefined) return undefined;
    if (typeof customId !== 'string' || customId === '') throw HttpError.invalidQuery('custom_id must be an unempty string');
    return { field: 'custom_id', value: customId };
  },
};
