/**
 * Piscina worker: parse one record-aligned frame, map and cast its cells, and resolve
 * references and reconciliation keys in bulk against the committed database state.
 */
import { workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { move } from 'piscina';
import { asSluiceError } from '../base/errors.js';
import { objectsToRecords, splitObjects } from '../input/json.js';
import { type CsvOptions, parseRecords } from '../input/parse.js';
import { assertUtf8 } from '../input/utf8.js';
import type { ClassDef, Model } from '../model/types.js';
import { readModel } from '../model/store.js';
import { compileDateFormat } from '../rows/dates.js';
import { mapRows, type MappedRows } from '../rows/map.js';
import { Lookup } from './lookup.js';
import { encodeChunk, encodeError } from './codec.js';
import { type FingerprintIndex, FingerprintQueries, type FingerprintSeed, FingerprintTable, SharedFingerprintTable, fingerprintSeed, fingerprintsApply, hashSpans, helpFill, matchFrame } from './fingerprint.js';
import type { HitRows, ParseTask, ResolvedChunk, WorkerBase, WorkerConfig } from './protocol.js';
import { resolveChunk } from './resolve.js';

/** A worker's state, made from its configuration on its first task. */
export interface WorkerState {
  cfg: WorkerConfig;
  /** the worker's read-only connection */
  db: Database.Database;
  model: Model;
  lookup: Lookup;
  parseOptions: CsvOptions;
  dates: ReturnType<typeof compileDateFormat>;
  /** null when this run's rows cannot be matched by fingerprint */
  seed: FingerprintSeed | null;
  fingerprints: FingerprintIndex | null;
}

let state: WorkerState | undefined;

/** The state a worker runs with: its read-only connection, the model, lookups, parse options and fingerprints. */
export function workerState(cfg: WorkerConfig): WorkerState {
  const db = new Database(cfg.dbPath, { readonly: true, fileMustExist: true, timeout: 10_000 });
  db.pragma('cache_size = -8192');
  const model = readModel(db, cfg.dbPath);
  // Only the imported class changes during the run: answers on the others are kept.
  const stable = [...model.classes.keys()].filter((c) => c !== cfg.plan.className);
  const lookup = new Lookup(db, { empty: cfg.emptyClass ? [cfg.plan.className] : [], stable });
  const useFingerprints = fingerprintsApply(cfg.plan, model.classes.get(cfg.plan.className) as ClassDef, cfg.format);
  return {
    cfg,
    db,
    model,
    lookup,
    parseOptions: { delimiter: cfg.delimiter.charCodeAt(0), quote: cfg.quote === null ? -1 : cfg.quote.charCodeAt(0), relaxQuotes: cfg.relaxQuotes },
    dates: compileDateFormat(cfg.dateFormat),
    seed: useFingerprints ? fingerprintSeed(db, model, cfg.plan, cfg) : null,
    fingerprints: useFingerprints ? fingerprintIndex(cfg, db, lookup) : null,
  };
}

/** Where the worker finds fingerprints: the table the writer shares, else its own, else queries (a class too large to hold). */
function fingerprintIndex(cfg: WorkerConfig, db: Database.Database, lookup: Lookup): FingerprintIndex {
  const shared = cfg.fingerprints;
  if (shared) return new SharedFingerprintTable(shared, () => helpFill(db, cfg.plan.className, shared));
  return FingerprintTable.load(db, cfg.plan.className) ?? new FingerprintQueries(lookup, cfg.plan.className);
}


/** Parse, map and resolve records: the ordinary path of every row. */
function resolveRecords(s: WorkerState, task: ParseTask, records: (string | undefined)[][], lines: Int32Array, errors: (string | null)[] | null = null): ResolvedChunk {
  const mapped: MappedRows = mapRows(s.model, s.cfg.plan, records, lines, { dates: s.dates, replica: s.cfg.plan.sync !== null });
  if (errors) errors.forEach((e, i) => e !== null && (mapped.error[i] = e));
  return resolveChunk(s.model, s.cfg.plan, s.lookup, mapped, task.seq, task.bytes.byteLength);
}

/**
 * A CSV frame when the run uses fingerprints (resolve/fingerprint.ts matchFrame): the
 * records matching an object skip parsing and mapping, the others take the ordinary path.
 */
function fingerprintedFrame(s: WorkerState, task: ParseTask, buf: Buffer, seed: FingerprintSeed, index: FingerprintIndex): ResolvedChunk {
  const opts = s.parseOptions;
  // Into a class that was empty no record can match: the parse finds the spans to hash.
  if (s.cfg.emptyClass) {
    const spans = { start: [] as number[], end: [] as number[] };
    const parsed = parseRecords(buf, task.firstLine, opts, spans);
    const chunk = resolveRecords(s, task, parsed.records, parsed.lines);
    chunk.fp = hashSpans(buf, spans, seed);
    return chunk;
  }
  const f = matchFrame(buf, task.firstLine, opts, seed, index);
  if (f.hit === null || f.spans === null || f.fp === null) {
    const chunk = resolveRecords(s, task, f.records as (string | undefined)[][], f.lines);
    if (f.fp) chunk.fp = f.fp;
    return chunk;
  }
  const { hit, hits, spans, fp } = f;
  const n = f.records.length;
  const h: HitRows = {
    row: new Int32Array(hits),
    id: new Float64Array(hits),
    line: new Int32Array(hits),
    start: new Int32Array(hits),
    end: new Int32Array(hits),
    fp: new BigInt64Array(hits),
  };
  const records: (string | undefined)[][] = [];
  const lines = new Int32Array(n - hits);
  const missFp = new BigInt64Array(n - hits);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const rec = f.records[i];
    if (rec === null || rec === undefined) {
      h.row[k] = i;
      h.id[k] = hit[i] as number;
      h.line[k] = spans.lines[i] as number;
      h.start[k] = spans.start[i] as number;
      h.end[k] = spans.end[i] as number;
      h.fp[k] = fp[i] as bigint;
      k++;
      continue;
    }
    lines[records.length] = spans.lines[i] as number;
    missFp[records.length] = fp[i] as bigint;
    records.push(rec);
  }
  const chunk = resolveRecords(s, task, records, lines);
  chunk.fp = missFp;
  chunk.hits = h;
  chunk.frame = buf;
  return chunk;
}

/**
 * One task: the frame parsed, mapped and resolved, encoded for the writer (or the error,
 * encoded). `get` gives the worker's state, made on the first task.
 */
export function handleTask(get: () => WorkerState, task: ParseTask): Uint8Array {
  try {
    const s = get();
    const buf = Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength);
    assertUtf8(buf, task.firstLine);
    let chunk: ResolvedChunk;
    if (s.cfg.format === 'json') {
      const text = buf.toString('utf8');
      const { records, lines, errors } = objectsToRecords(text, splitObjects(text, task.firstLine), s.cfg.plan.header);
      chunk = resolveRecords(s, task, records, lines, errors);
    } else if (s.seed && s.fingerprints) chunk = fingerprintedFrame(s, task, buf, s.seed, s.fingerprints);
    else {
      const { records, lines } = parseRecords(buf, task.firstLine, s.parseOptions);
      chunk = resolveRecords(s, task, records, lines);
    }
    return encodeChunk(chunk);
  } catch (err) {
    return encodeError(asSluiceError(err).toJSON());
  }
}

/** Piscina's entry: the encoded chunk (or error), transferred back to the run thread. */
export default function run(task: ParseTask): Uint8Array {
  return move(handleTask(() => (state ??= workerState({ ...(workerData as WorkerBase), ...task.run })), task)) as Uint8Array;
}
