/**
 * Piscina worker: parse one record-aligned frame, map and cast its cells, and resolve
 * references and reconciliation keys in bulk against the committed database state.
 */
import { workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { parse, type Options as CsvOptions } from 'csv-parse/sync';
import { SluiceError, asSluiceError } from '../engine/errors.js';
import { assertUtf8 } from '../input/utf8.js';
import { LineCounter } from '../input/lines.js';
import type { Model } from '../model/types.js';
import { readModel } from '../model/store.js';
import { compileDateFormat } from '../rows/dates.js';
import { mapRows, type MappedRows } from '../rows/map.js';
import { Lookup } from './lookup.js';
import type { ParseTask, ResolvedChunk, WorkerConfig, WorkerReply } from './protocol.js';
import { resolveChunk } from './resolve.js';

interface State {
  cfg: WorkerConfig;
  model: Model;
  lookup: Lookup;
  parseOptions: CsvOptions;
  dates: ReturnType<typeof compileDateFormat>;
}

let state: State | undefined;

function init(): State {
  const cfg = workerData as WorkerConfig;
  const db = new Database(cfg.dbPath, { readonly: true, fileMustExist: true, timeout: 10_000 });
  db.pragma('cache_size = -8192');
  return {
    cfg,
    model: readModel(db, cfg.dbPath),
    lookup: new Lookup(db),
    parseOptions: {
      delimiter: cfg.delimiter,
      quote: cfg.quote ?? false,
      record_delimiter: ['\r\n', '\n', '\r'],
      relax_column_count: true,
      trim: true,
      skip_empty_lines: true,
      info: true,
    },
    dates: compileDateFormat(cfg.dateFormat),
  };
}

interface CsvErrorLike {
  code?: string;
  lines?: number;
  message: string;
}

function parseFrame(s: State, task: ParseTask): { records: string[][]; lines: Int32Array } {
  const buf = Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength);
  assertUtf8(buf, task.firstLine);
  let parsed: { record: string[]; info: { bytes: number } }[];
  try {
    parsed = parse(buf, s.parseOptions) as unknown as typeof parsed;
  } catch (err) {
    const e = err as CsvErrorLike;
    const line = task.firstLine + Math.max(0, (e.lines ?? 1) - 1);
    const why = e.message.replace(/ at line \d+.*$/s, '').replace(/^[A-Za-z ]+: /, '');
    throw new SluiceError('E_MALFORMED', `malformed CSV on line ${line}: ${why}`, { line, cause: err });
  }
  const counter = new LineCounter(buf, task.firstLine);
  const lines = new Int32Array(parsed.length);
  const records: string[][] = new Array(parsed.length);
  for (let i = 0; i < parsed.length; i++) {
    const p = parsed[i] as { record: string[]; info: { bytes: number } };
    lines[i] = counter.next(p.info.bytes);
    records[i] = p.record;
  }
  return { records, lines };
}

export default function run(task: ParseTask): WorkerReply {
  try {
    state ??= init();
    const s = state;
    const { records, lines } = parseFrame(s, task);
    const mapped: MappedRows = mapRows(s.model, s.cfg.plan, records, lines, { dates: s.dates, keepCells: s.cfg.keepCells });
    const chunk: ResolvedChunk = resolveChunk(s.model, s.cfg.plan, s.lookup, mapped, task.seq, task.bytes.byteLength);
    return { ok: true, chunk };
  } catch (err) {
    return { ok: false, error: asSluiceError(err).toJSON() };
  }
}
