/** The `services` table; created by the store's initial migration (`0001-initial`). */
import { SERVICES } from '@sluice/protocol';
import { defineTable } from '../entity-table.js';

export const SERVICES_TABLE = defineTable(SERVICES);
