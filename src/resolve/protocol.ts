import type { SharedFingerprints } from './fingerprint.js';
import type { Scalar } from '../model/types.js';
import type { LinkItem } from '../rows/map.js';
import type { ImportPlan } from '../rows/plan.js';

/** How a row found (or will look for) its object. */
export const enum MatchBy {
  /** no key, no id, no source: the row creates */
  None = 0,
  Id = 1,
  Source = 2,
  Keys = 3,
}

/**
 * Rows whose record fingerprint is that of exactly one object (resolve/fingerprint.ts):
 * unchanged unless an earlier row of the run touched the object. They are not parsed or
 * mapped in the worker and travel as these columns only, outside the chunk's other rows.
 */
export interface HitRows {
  /** each row's position among all the rows of the frame, ascending */
  row: Int32Array;
  id: Float64Array;
  line: Int32Array;
  /** the record's bytes in the frame: frame[start .. end) */
  start: Int32Array;
  end: Int32Array;
  fp: BigInt64Array;
}

/** What every worker of a run is started with (workerData), before the writer holds the write lock. */
export interface WorkerBase {
  dbPath: string;
  plan: ImportPlan;
  format: 'csv' | 'json';
  delimiter: string;
  quote: string | null;
  /** --relax-quotes */
  relaxQuotes: boolean;
  dateFormat: string | undefined;
}

/** What the workers learn once the writer holds the write lock: it comes with every task. */
export interface WorkerRun {
  /**
   * The imported class held no object when the writer took the write lock: its lookups
   * need no query (whatever the run creates, the writer re-checks).
   */
  emptyClass: boolean;
  /** the class's fingerprints as the writer reads them for every worker (write/thread.ts); absent: each worker reads its own */
  fingerprints?: SharedFingerprints;
}

/** Everything a worker's state is made from. */
export type WorkerConfig = WorkerBase & WorkerRun;

export interface ParseTask {
  seq: number;
  bytes: Uint8Array;
  firstLine: number;
  /** the run's settings the writer decided (the first task a worker gets makes its state) */
  run: WorkerRun;
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
  /** per row × ref group: the sub-value tuple of references into the imported class itself, or into a class of plan.writtenBefore (re-checked by the writer) */
  selfRefTuple: (Scalar[] | null)[];
  /** per row × ref group: the worker's error for a self-reference, which the writer may overturn */
  selfRefError: (string | null)[];
  /** per row × link spec into the imported class itself, or into a class of plan.writtenBefore: the cell's items (re-resolved by the writer) */
  selfLinkItems: (LinkItem[] | null)[];
  /** per row × link spec into the imported class itself: the worker's error for its items, which the writer may overturn */
  selfLinkError: (string | null)[];
  source: (string | null)[];
  sourceId: (string | null)[];
  /** a sync's rows: each record's cells as its replica keeps them (see rows/map.ts replicaText) */
  replica: string[] | null;
  /** each row's record fingerprint, stored with the object it writes (0: none); null when the run uses none */
  fp: BigInt64Array | null;
  /** rows matched by fingerprint, besides the `count` rows above */
  hits: HitRows | null;
  /** the frame's bytes, for the writer to parse a matched row whose object the run touched */
  frame: Uint8Array | null;
}
