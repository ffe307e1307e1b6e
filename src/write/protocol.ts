import type { SyncOutcome, SyncRunConfig } from '../sync/writer.js';
import type { SerializedError } from '../base/errors.js';
import type { Counts } from '../report/types.js';
import type { CsvOptions } from '../input/parse.js';
import type { ImportPlan } from '../rows/plan.js';
import type { SharedFingerprints } from '../resolve/fingerprint.js';
import type { AppliedReply, ChangeLabel, RunInfo } from './apply.js';
import type { LookupIndex } from './prepare.js';

export interface WriterConfig {
  dbPath: string;
  /** an Int32Array's buffer: 1 once the run is interrupted (WriterClient.interrupt), read while the lock is waited for */
  interrupt?: SharedArrayBuffer;
  plan: ImportPlan;
  run: RunInfo;
  /** lookup tuples (class, columns) that need an index before the run */
  indexes: LookupIndex[];
  /** send back each row's line, warnings and cells (the report keeps rows) */
  wantRows: boolean;
  /** --date-format and the CSV bytes, for rows the writer parses and maps itself (matched by fingerprint, touched by the run) */
  dateFormat: string | undefined;
  csv: CsvOptions;
  /** the token of the run's write lease (write/lock.ts) */
  leaseToken: string;
  /** a sync's replicas, guard and absent objects (sync/writer.ts) */
  sync: SyncRunConfig | null;
  /** the input file's size, null for a stream */
  inputBytes: number | null;
  /** the run's records are matched by fingerprint: the writer reads the class's for the workers (SharedFingerprints) */
  fingerprints: boolean;
  /**
   * A bundle (engine/bundle.ts): every file's plan and lookups, prepared together before the
   * run; this config is the first file's, the others come with `part` messages.
   */
  bundle?: { label: ChangeLabel; parts: { plan: ImportPlan; indexes: LookupIndex[] }[] };
}

export type ToWriter =
  /** `bytes`: a chunk encoded by resolve/codec.ts, transferred */
  | { type: 'chunk'; bytes: Uint8Array }
  | { type: 'finish'; ok: boolean; outcome: string; lines: number }
  /** a bundle: the file being applied is done (`lines` rows), another follows */
  | { type: 'endPart'; lines: number }
  /** a bundle: the next file, in the run's change and transaction; answered with `ready` */
  | { type: 'part'; cfg: WriterConfig };

export type FromWriter =
  /** another run holds the write lock; this one waits (not a reply) */
  | { type: 'waiting' }
  /**
   * `emptyClass`: the imported class held no object when the run took the write lock;
   * `fingerprints`: the table of its fingerprints the writer fills next, for the workers
   */
  | { type: 'ready'; change: number; emptyClass: boolean; fingerprints: SharedFingerprints | null }
  | { type: 'applied'; result: AppliedReply }
  | { type: 'partEnded'; counts: Counts; lastCommittedLine: number | null }
  | { type: 'finished'; change: number | null; counts: Counts; rolledBack: Counts | null; lastCommittedLine: number | null; sync: SyncOutcome | null }
  | { type: 'failed'; error: SerializedError };
