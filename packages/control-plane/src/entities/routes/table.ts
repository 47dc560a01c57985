/** The `routes` table; created by the store's initial migration (`0001-initial`). */
import { ROUTES } from '@sluice/protocol';
import { defineTable } from '../entity-table.js';

export const ROUTES_TABLE = defineTable(ROUTES);
