import type { Scalar } from '../model/types.js';
import type { ImportPlan } from '../rows/plan.js';

/** How a row found (or will look for) its object. */
export const enum MatchBy {
  /** no key, no id, no source: the row creates */
  None = 0,
  Id = 1,
  Source = 2,
  Keys = 3,
  /** the record's fingerprint is that of exactly one object (matchId): unchanged unless the run touched it */
  Fingerprint = 4,
}

/** Everything a worker needs, passed once as workerData. */
export interface WorkerConfig {
  dbPath: string;
  plan: ImportPlan;
  format: 'csv' | 'json';
  delimiter: string;
  quote: string | null;
  dateFormat: string | undefined;
  /** keep the input cells of each row (details output, --log) */
  keepCells: boolean;
}

export interface ParseTask {
  seq: number;
  bytes: Uint8Array;
  firstLine: number;
}

/**
 * One frame, parsed, cast and resolved against committed state. Columnar: row i's
 * values are values[i * slots .. i * slots + slots). `undefined` in a value slot
 * means "leave as it is" (--ignore-empty).
 */
export interface ResolvedChunk {
  seq: number;
  byteLength: number;
  count: number;
  line: Int32Array;
  /** a final row error found in the worker (parse, cast, reference to another class) */
  error: (string | null)[];
  /** warnings, joined with '\n' */
  warn: (string | null)[];
  values: (Scalar | undefined)[];
  /** per row × link spec: target ids, or undefined to leave the set as it is */
  links: (number[] | undefined)[];
  matchBy: Uint8Array;
  /** the id column's value, 0 when empty */
  rowId: Float64Array;
  /** 1: the single match already holds every value the row sets (unchanged, unless the run touched it); 2: it differs */
  diff: Uint8Array;
  matchCount: Int32Array;
  matchId: Float64Array;
  /** plan.fetch columns of the single matched object (null when diff is 1: not needed) */
  current: (Scalar[] | null)[];
  /** per row × link spec: current member ids of the single matched object */
  currentLinks: (number[] | null)[];
  /** per row × ref group: the sub-value tuple of references into the imported class itself (re-checked by the writer) */
  selfRefTuple: (Scalar[] | null)[];
  /** per row × ref group: the worker's error for a self-reference, which the writer may overturn */
  selfRefError: (string | null)[];
  source: (string | null)[];
  sourceId: (string | null)[];
  cells: string[][] | null;
  /** each row's record fingerprint, stored with the object it writes; null when the run uses none */
  fp: BigInt64Array | null;
  /**
   * The cells of the rows matched by fingerprint, in row order, each row's header-width
   * cells joined with NUL (which no input holds): the writer maps them itself when an
   * earlier row of the run touched the object.
   */
  fpCells: string | null;
}
