/**
 * The import plan: what each input column feeds, the reconciliation key and the
 * lookups the run needs. Built once from the header in the run thread, then handed
 * (structured-cloned) to every worker and to the writer.
 */
export type ColumnSpec =
  | { kind: 'id' }
  | { kind: 'source' }
  | { kind: 'source_id' }
  /** a scalar attribute: the cell is cast and stored in `slot` */
  | { kind: 'scalar'; slot: number }
  /** one sub-attribute of a reference group (`org_id->name`, or a plain `org_id` holding the id) */
  | { kind: 'refSub'; group: number; sub: number }
  | { kind: 'links'; link: number };

export interface RefGroup {
  /** the reference attribute code */
  attr: string;
  /** the value slot receiving the resolved id */
  slot: number;
  target: string;
  /** sub-attribute codes of the target that the columns name ('id' for a plain id column) */
  subs: string[];
  /** the input column of each sub */
  columns: number[];
}

export interface LinkSpec {
  attr: string;
  label: string;
  target: string;
  linkTable: string;
  itemKey: string;
  column: number;
  /** the target attribute a bare item names (its first reconciliation attribute, or `name`) */
  itemAttr: string;
}

export type Action = 'upsert' | 'insert' | 'update' | 'delete';

/** How a sync writes one attribute of an object it updates (sync/config.ts UpdatePolicy). */
export const enum SlotPolicy {
  Master = 0,
  WriteIfEmpty = 1,
  Ignore = 2,
}

/**
 * A sync's rows are the records of a data source (sync/): each is found first among the
 * source's own objects by its source_id (the object's `source` is the source's name), then
 * by the reconciliation keys.
 */
export interface SyncSpec {
  /** the source's name: the `source` of every object it owns */
  source: string;
  /** the source's row in _sluice_source */
  ref: number;
  onZero: 'create' | 'error';
  onMultiple: 'error' | 'take-first' | 'create';
  /** an object found by the keys with no source becomes the source's own */
  claim: boolean;
  /** --load-only: the records go to the source's replicas, no object is written */
  loadOnly: boolean;
  /** per value slot */
  policy: SlotPolicy[];
  /** per link spec */
  linkPolicy: SlotPolicy[];
}

export interface ImportPlan {
  className: string;
  /** header cells as written */
  header: string[];
  columns: ColumnSpec[];
  /** attribute codes stored per row, one per value slot */
  slots: string[];
  refs: RefGroup[];
  links: LinkSpec[];
  /** reconciliation key attribute codes (each has a slot); empty = no key */
  keys: string[];
  /** the keys as shown in the report (`email`, `org_id->name`) */
  keyLabels: string[];
  /** columns of the class fetched for a matched object (diffs, history, touched tracking) */
  fetch: string[];
  idColumn: number;
  sourceColumn: number;
  sourceIdColumn: number;
  action: Action;
  ignoreEmpty: boolean;
  /** set for a sync: the rows are records of this source */
  sync: SyncSpec | null;
  /**
   * A bundle's file: the classes its earlier files wrote in the same run. The workers read
   * the committed state, which may not hold those writes yet, so references and link items
   * into these classes are resolved again by the writer (as those into the class itself).
   * Absent for a single file.
   */
  writtenBefore?: string[];
}
