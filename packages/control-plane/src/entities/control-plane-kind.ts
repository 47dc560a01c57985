/** What the control plane adds to a registry kind: where it is stored, and Admin API extras. */
import type { EntityTable } from './entity-table.js';

/** A lookup by a unique field that answers `GET /{kind}` instead of a page (Kong's `/consumers?custom_id=x`). */
export interface ListLookup {
  readonly field: string;
  readonly value: string;
}

/** The control plane's side of one kind. */
export interface ControlPlaneKind {
  readonly table: EntityTable;
  /**
   * Reads the collection's query: a lookup to answer `{data: [entity], next: null}` with (empty
   * `data` when nothing matches), or undefined to page as usual. Throws an Admin API error for a
   * bad value.
   */
  readonly listLookup?: (query: Readonly<Record<string, unknown>>) => ListLookup | undefined;
}
