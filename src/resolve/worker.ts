/**
 * Piscina worker: parse one record-aligned frame, map and cast its cells, and resolve
 * references and reconciliation keys in bulk against the committed database state.
 */
import { workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { move } from 'piscina';
import { asSluiceError } from '../engine/errors.js';
import { objectsToRecords, splitObjects } from '../input/json.js';
import { type CsvOptions, parseRecords } from '../input/parse.js';
import { assertUtf8 } from '../input/utf8.js';
import type { Model } from '../model/types.js';
import { readModel } from '../model/store.js';
import { compileDateFormat } from '../rows/dates.js';
import { mapRows, type MappedRows } from '../rows/map.js';
import { Lookup } from './lookup.js';
import { encodeChunk, encodeError } from './codec.js';
import { type FingerprintIndex, FingerprintQueries, type FingerprintSeed, FingerprintTable, fingerprintSeed, fingerprintsApply, matchRecords } from './fingerprint.js';
import type { ParseTask, ResolvedChunk, WorkerConfig } from './protocol.js';
import { resolveChunk } from './resolve.js';

interface State {
  cfg: WorkerConfig;
  model: Model;
  lookup: Lookup;
  parseOptions: CsvOptions;
  dates: ReturnType<typeof compileDateFormat>;
  /** null when this run's rows cannot be matched by fingerprint */
  seed: FingerprintSeed | null;
  fingerprints: FingerprintIndex | null;
}

let state: State | undefined;

function init(): State {
  const cfg = workerData as WorkerConfig;
  const db = new Database(cfg.dbPath, { readonly: true, fileMustExist: true, timeout: 10_000 });
  db.pragma('cache_size = -8192');
  const model = readModel(db, cfg.dbPath);
  const lookup = new Lookup(db);
  const useFingerprints = fingerprintsApply(cfg.plan, cfg.format);
  return {
    cfg,
    model,
    lookup,
    parseOptions: { delimiter: cfg.delimiter.charCodeAt(0), quote: cfg.quote === null ? -1 : cfg.quote.charCodeAt(0) },
    dates: compileDateFormat(cfg.dateFormat),
    seed: useFingerprints ? fingerprintSeed(db, model, cfg.plan, cfg) : null,
    fingerprints: useFingerprints ? (FingerprintTable.load(db, cfg.plan.className) ?? new FingerprintQueries(lookup, cfg.plan.className)) : null,
  };
}


interface Parsed {
  records: (string | undefined)[][];
  lines: Int32Array;
  errors: (string | null)[] | null;
}

function parseFrame(s: State, task: ParseTask): Parsed {
  const buf = Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength);
  assertUtf8(buf, task.firstLine);
  if (s.cfg.format === 'json') {
    const text = buf.toString('utf8');
    return objectsToRecords(text, splitObjects(text, task.firstLine), s.cfg.plan.header);
  }
  return { ...parseRecords(buf, task.firstLine, s.parseOptions), errors: null };
}

/** Returns the encoded chunk (or error), transferred back to the main thread. */
export default function run(task: ParseTask): Uint8Array {
  try {
    state ??= init();
    const s = state;
    const { records, lines, errors } = parseFrame(s, task);
    const fp = s.seed && s.fingerprints && !errors ? matchRecords(s.fingerprints, s.cfg.plan, records, s.seed) : null;
    const mapped: MappedRows = mapRows(s.model, s.cfg.plan, records, lines, { dates: s.dates, keepCells: s.cfg.keepCells, skip: fp?.hit.some((id) => id > 0) ? Uint8Array.from(fp.hit, (id) => (id > 0 ? 1 : 0)) : null });
    if (errors) errors.forEach((e, i) => e !== null && (mapped.error[i] = e));
    const chunk: ResolvedChunk = resolveChunk(s.model, s.cfg.plan, s.lookup, mapped, task.seq, task.bytes.byteLength, fp);
    return move(encodeChunk(chunk)) as Uint8Array;
  } catch (err) {
    return move(encodeError(asSluiceError(err).toJSON())) as Uint8Array;
  }
}
