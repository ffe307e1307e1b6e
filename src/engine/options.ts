import { availableParallelism } from 'node:os';
import type { Readable } from 'node:stream';
import { checkCharset } from '../input/decode.js';
import { compileDateFormat } from '../rows/dates.js';
import type { Action } from '../rows/plan.js';
import type { PlanOptions } from '../rows/header.js';
import type { SyncRunConfig } from '../sync/writer.js';
import { SluiceError } from '../base/errors.js';
import { storeTraits } from '../store/store.js';

export type OutputKind = 'summary' | 'details' | 'json' | 'retcode';
export type ProgressKind = 'auto' | 'bar' | 'json' | 'none';
export const ACTIONS: readonly Action[] = ['upsert', 'insert', 'update', 'delete'];
export const OUTPUTS: readonly OutputKind[] = ['summary', 'details', 'json', 'retcode'];
export const PROGRESS: readonly ProgressKind[] = ['auto', 'bar', 'json', 'none'];

/** Import options as the engine uses them: validated, defaults filled in. */
export interface ImportOptions {
  db: string;
  className: string;
  /** a path, or '-' for stdin */
  file: string;
  /** an already-open source (HTTP upload, tests); `file` is then only its display name */
  input: Readable | undefined;
  /** the name the change record gives the input when `file` is a copy of it (an HTTP upload spooled to disk) */
  fileName: string | undefined;
  keys: string[] | undefined;
  action: Action;
  charset: string | undefined;
  /** undefined = detect from the header line */
  separator: string | undefined;
  /** null = no qualifier */
  qualifier: string | null;
  /** text after a quoted field's closing qualifier makes the field unquoted text instead of an error */
  relaxQuotes: boolean;
  dateFormat: string | undefined;
  /** csv (also TSV and other separators) or json (an array of objects, or one object per line) */
  format: 'csv' | 'json';
  ignoreEmpty: boolean;
  stopOnError: boolean;
  chunkSize: number;
  simulate: boolean;
  comment: string;
  output: OutputKind;
  log: string | undefined;
  progress: ProgressKind;
  /** worker threads for parse/cast/resolve */
  workers: number;
  /** target frame size in bytes */
  frameBytes: number;
  /** a record larger than this stops the run */
  maxRecordBytes: number;
  user: string | undefined;
  /** the pool's worker module (a URL); the default is resolve/worker.js. For embedding and fault tests. */
  workerFile: string | undefined;
  /** a sync: the rows are the records of this data source, and what the run does at its end (sync/) */
  sync: (NonNullable<PlanOptions['sync']> & { pass: SyncRunConfig }) | undefined;  /** a bundle's file: the classes its earlier files wrote (ImportPlan.writtenBefore); set by engine/bundle.ts */
  writtenBefore?: string[] | undefined;
}

/** The raw shape accepted by normalizeImportOptions: what a CLI, an HTTP form or a test passes. */
export type RawImportOptions = Partial<Omit<ImportOptions, 'keys' | 'qualifier'>> & {
  keys?: string[] | string | undefined;
  qualifier?: string | null | undefined;
  className?: string;
  file?: string;
};

function bad(option: string, message: string): never {
  throw new SluiceError('E_USAGE', `${option}: ${message}`, { option });
}

function oneOf<T extends string>(option: string, value: string | undefined, valid: readonly T[], dflt: T): T {
  if (value === undefined) return dflt;
  const v = value.toLowerCase() as T;
  if (!valid.includes(v)) bad(option, `"${value}" is not valid (valid: ${valid.join(', ')})`);
  return v;
}

function positiveInt(option: string, value: unknown, dflt: number, min = 1): number {
  if (value === undefined) return dflt;
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isInteger(n) || n < min) bad(option, `"${String(value)}" is not valid (a whole number of at least ${min})`);
  return n;
}

function oneChar(option: string, value: string): string {
  const named: Record<string, string> = { tab: '\t', '\\t': '\t', comma: ',', semicolon: ';', pipe: '|', space: ' ' };
  const v = named[value.toLowerCase()] ?? value;
  if ([...v].length !== 1) bad(option, `"${value}" is not one character (e.g. , ; tab |)`);
  if (v.charCodeAt(0) > 127) bad(option, `"${value}" must be an ASCII character`);
  if (v === '\n' || v === '\r') bad(option, 'a line break cannot be used');
  return v;
}

export function defaultWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

/** Validate everything before any byte is read; each message names the option and the value. */
export function normalizeImportOptions(raw: RawImportOptions): ImportOptions {
  if (!raw.className) bad('--class', 'is required (the class to import into, e.g. --class Person; "sluice schema" lists them)');
  if (!raw.file && !raw.input) bad('--file', 'is required (a CSV/TSV file, or - for standard input)');
  const keys =
    raw.keys === undefined ? undefined : (Array.isArray(raw.keys) ? raw.keys : raw.keys.split(',')).map((k) => k.trim()).filter((k) => k !== '');
  if (keys !== undefined && keys.length === 0) bad('--keys', 'names no attribute (e.g. --keys email or --keys name,org_id->name)');
  const separator = raw.separator === undefined || raw.separator === '' ? undefined : oneChar('--separator', raw.separator);
  const qualifier = raw.qualifier === undefined ? '"' : raw.qualifier === null || raw.qualifier === '' ? null : oneChar('--qualifier', raw.qualifier);
  if (separator !== undefined && separator === qualifier) bad('--qualifier', `cannot be the same character as --separator ("${separator}")`);
  const charset = raw.charset === undefined || raw.charset === '' ? undefined : checkCharset(raw.charset);
  if (raw.dateFormat !== undefined) compileDateFormat(raw.dateFormat);
  const format = raw.format === undefined ? (/\.(nd)?json$/i.test(raw.file ?? '') ? 'json' : 'csv') : (String(raw.format).toLowerCase() as 'csv' | 'json');
  if (format !== 'csv' && format !== 'json') bad('--format', `"${String(raw.format)}" is not valid (valid: csv, json; json is detected from a .json or .ndjson file name)`);
  const db = raw.db ?? process.env.SLUICE_DB ?? 'sluice.db';
  return {
    db,
    className: raw.className,
    file: raw.file ?? 'upload',
    input: raw.input,
    fileName: raw.fileName,
    keys,
    action: oneOf('--action', raw.action, ACTIONS, 'upsert'),
    charset,
    separator,
    qualifier,
    relaxQuotes: raw.relaxQuotes === true,
    dateFormat: raw.dateFormat === '' ? undefined : raw.dateFormat,
    format,
    ignoreEmpty: raw.ignoreEmpty === true,
    stopOnError: raw.stopOnError !== false,
    chunkSize: raw.chunkSize === undefined || raw.chunkSize === 0 ? 0 : positiveInt('--chunk-size', raw.chunkSize, 0),
    simulate: raw.simulate === true,
    comment: raw.comment ?? '',
    output: oneOf('--output', raw.output, OUTPUTS, 'summary'),
    log: raw.log,
    progress: oneOf('--progress', raw.progress, PROGRESS, 'auto'),
    workers: positiveInt('--workers', raw.workers, defaultWorkers()),
    frameBytes: positiveInt('--frame-bytes', raw.frameBytes, storeTraits(db).frameBytes, 1),
    maxRecordBytes: positiveInt('--max-record-bytes', raw.maxRecordBytes, 16 * 1024 * 1024, 1024),
    user: raw.user,
    workerFile: raw.workerFile,
    sync: raw.sync,
  };
}
