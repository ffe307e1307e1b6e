/**
 * Bundles: several files imported as one run (`sluice import --bundle DIR_OR_MANIFEST`).
 *
 * planBundle reads what each file is (its class, its options, its header), orders the files
 * from the model (engine/bundle-order.ts) and checks everything before any row is read;
 * runBundle then runs runImport on each file in turn, all of them through one writer thread
 * (engine/bundle-writer.ts; into PostgreSQL, one connection: store/postgres/bundle.ts) that
 * keeps one change record and, by default, one transaction: all files or nothing. With
 * --chunk-size each file commits every N rows and at its end.
 */
import type { CellSource } from '../report/cells.js';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { SluiceError, asSluiceError } from '../base/errors.js';
import { READ_BYTES } from '../base/threads.js';
import { createDecoder } from '../input/decode.js';
import { type Frame, Framer } from '../input/frame.js';
import { JsonFramer, jsonHeader } from '../input/json.js';
import { parseHeader } from '../input/parse.js';
import { assertUtf8 } from '../input/utf8.js';
import type { Model } from '../model/types.js';
import type { RowSpool } from '../report/spool.js';
import { type Counts, emptyCounts, type Outcome, type ProgressEvent, type RunSummary } from '../report/types.js';
import { buildPlan } from '../rows/header.js';
import type { ImportPlan } from '../rows/plan.js';
import type { ChangeLabel } from '../write/apply.js';
import type { LookupIndex } from '../write/prepare.js';
import type { BundleEntry } from './bundle-manifest.js';
import { bundleOrder, referencesOf } from './bundle-order.js';
import { type ImportOptions, type RawImportOptions, normalizeImportOptions } from './options.js';
import { storeFor } from '../store/store.js';
import { type ImportHooks, type ImportResult, lookupIndexes } from './run.js';

/** What the change record of a bundle names as its action. */
export const BUNDLE_ACTION = 'bundle';

/** One file of a planned bundle. */
export interface BundleFile {
  /** as the report and messages name it */
  name: string;
  className: string;
  /** its options: the command line's, its own over them, and the classes the files before it write */
  options: ImportOptions;
  plan: ImportPlan;
  indexes: LookupIndex[];
}

/** A bundle ready to run: its files in the order they run. Plain data (it crosses to the run's thread). */
export interface BundlePlan {
  /** the bundle as the change record and the report name it: its directory or manifest */
  name: string;
  label: ChangeLabel;
  files: BundleFile[];
}

export interface BundleFileResult {
  name: string;
  className: string;
  summary: RunSummary;
  rows: RowSpool | null;
  /** where the details table reads the file's cells again */
  cells: CellSource | null;
}

/** The bundle as a whole: its totals, its change and how it ended. */
export interface BundleSummary {
  name: string;
  /** every file, in the order they run (or would have) */
  order: { name: string; className: string }[];
  /** the files the run did not reach (it stopped before them) */
  notRun: string[];
  simulate: boolean;
  counts: Counts;
  lines: number;
  elapsedS: number;
  change: number | null;
  outcome: Outcome;
  /** why the run stopped early: the file, the line and the message */
  stopMessage: string | null;
}

export interface BundleResult {
  summary: BundleSummary;
  /** the files that ran, in order */
  files: BundleFileResult[];
  exitCode: number;
  error: SluiceError | null;
}

/** An error about one file names it first. */
export function inFile(e: SluiceError, name: string): SluiceError {
  if (e.message.startsWith(`${name}: `)) return e;
  return new SluiceError(e.code, `${name}: ${e.message}`, { line: e.line, column: e.column, option: e.option, file: name, cause: e });
}

/** The options of one file: the command line's, with the file's own over them. */
function fileOptions(raw: RawImportOptions, e: BundleEntry): ImportOptions {
  try {
    return normalizeImportOptions({ ...raw, ...e.options, className: e.className, file: e.path });
  } catch (err) {
    throw inFile(asSluiceError(err), e.origin);
  }
}

/** The header of a file: its first record (CSV) or the keys of its first object (JSON). */
export async function readHeader(o: ImportOptions): Promise<string[]> {
  const source = createReadStream(o.file, { highWaterMark: READ_BYTES });
  const decoder = createDecoder(o.charset);
  const stream = source.pipe(decoder.stream);
  const fail = (e: Error): void => {
    decoder.stream.destroy(new SluiceError('E_USAGE', `cannot read ${o.file}: ${e.message}`, { option: '--bundle', cause: e }));
  };
  source.on('error', fail);
  const framer =
    o.format === 'json'
      ? new JsonFramer({ targetBytes: o.frameBytes, maxRecordBytes: o.maxRecordBytes })
      : new Framer({ quote: o.qualifier === null ? null : o.qualifier.charCodeAt(0), delimiter: o.separator === undefined ? null : o.separator.charCodeAt(0), targetBytes: o.frameBytes, maxRecordBytes: o.maxRecordBytes });
  let first: Frame | undefined;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      first = framer.push(chunk)[0];
      if (first) break;
    }
    first ??= framer.end()[0];
  } finally {
    source.destroy();
    stream.destroy();
  }
  if (!first) {
    if (framer instanceof JsonFramer && framer.emptyArray) return [];
    throw new SluiceError('E_MALFORMED', `the file is empty; ${o.format === 'json' ? 'it must hold an array of objects or one object per line' : 'the first line must be a header naming the columns'}`, { line: 1 });
  }
  if (framer instanceof JsonFramer) {
    assertUtf8(first.bytes, first.firstLine);
    return jsonHeader(first);
  }
  const separator = String.fromCharCode(framer.delimiter as number);
  assertUtf8(first.bytes, 1);
  return parseHeader(first.bytes, { delimiter: separator.charCodeAt(0), quote: o.qualifier === null ? -1 : o.qualifier.charCodeAt(0), relaxQuotes: o.relaxQuotes });
}

/** The options every file shares, checked once (a bad one is the command line's, not a file's). */
export function bundleOptions(raw: RawImportOptions): ImportOptions {
  return normalizeImportOptions({ ...raw, className: '-', file: '-' });
}

/**
 * The model of the bundle's database (an SQLite file is created with the cmdb model on first
 * use, as an import does; a PostgreSQL schema must exist).
 */
export async function bundleModel(db: string): Promise<Model> {
  return (await storeFor(db)).importModel(db);
}

/**
 * Check a bundle and put its files in order, before any row is read: each file's options,
 * class and header, and the order its references ask for. Every error names the file.
 */
export async function planBundle(model: Model, name: string, entries: readonly BundleEntry[], raw: RawImportOptions): Promise<BundlePlan> {
  const files: BundleFile[] = [];
  for (const e of entries) {
    const o = fileOptions(raw, e);
    if (o.file === '-') throw new SluiceError('E_USAGE', `--bundle: ${e.origin}: standard input cannot be a bundle's file`, { option: '--bundle' });
    const cls = model.classes.get(e.className);
    if (!cls) throw new SluiceError('E_USAGE', `--bundle: ${e.origin}: unknown class ${e.className}`, { option: '--bundle' });
    await checkReadable(o.file, e.origin);
    let plan: ImportPlan;
    try {
      const header = await readHeader(o);
      plan = buildPlan(model, cls, header, { keys: o.keys, action: o.action, ignoreEmpty: o.ignoreEmpty });
    } catch (err) {
      throw inFile(asSluiceError(err), e.name);
    }
    files.push({ name: e.name, className: cls.name, options: o, plan, indexes: lookupIndexes(model, cls, plan) });
  }
  const order = bundleOrder(files.map((f) => ({ name: f.name, className: f.className, refersTo: referencesOf(f.plan) })));
  const ordered = order.map((k) => files[k] as BundleFile);
  const written: string[] = [];
  for (const f of ordered) {
    f.options = { ...f.options, writtenBefore: [...written] };
    written.push(f.className);
  }
  return { name, label: { className: written.join(','), action: BUNDLE_ACTION }, files: ordered };
}

/** A bundle's file exists and is a regular file (the manifest may name one that does not). */
async function checkReadable(path: string, origin: string): Promise<void> {
  let why: string | null = null;
  try {
    if (!(await stat(path)).isFile()) why = 'not a regular file';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code);
  }
  if (why !== null) throw new SluiceError('E_USAGE', `--bundle: ${origin}: cannot read ${path} (${why})`, { option: '--bundle', file: origin });
}

function add(a: Counts, b: Counts): Counts {
  const out = emptyCounts();
  for (const k of Object.keys(out) as (keyof Counts)[]) out[k] = a[k] + b[k];
  return out;
}

/** Whether a failure takes back the files before it: all in one transaction (no --chunk-size, or --simulate). */
function oneTransaction(p: BundlePlan): boolean {
  const o = (p.files[0] as BundleFile).options;
  return o.chunkSize === 0 || o.simulate;
}

/** Run a planned bundle: its files in order, in one change (and by default one transaction). */
export async function runBundle(p: BundlePlan, hooks: ImportHooks = {}): Promise<BundleResult> {
  const started = process.hrtime.bigint();
  const elapsed = (): number => Number(process.hrtime.bigint() - started) / 1e9;
  // The writer thread on an SQLite file, one connection into a PostgreSQL schema.
  const writer = (await storeFor((p.files[0] as BundleFile).options.db)).bundleRunner(p);
  const results: BundleFileResult[] = [];
  let failure: SluiceError | null = null;
  let failedCode = 0;
  /** why the run stopped, naming the file */
  let stopText: string | null = null;
  /** the change record a failure left, when the failing file's own result does not say */
  let endChange: number | null | undefined;
  let endOutcome: Outcome | null = null;
  // Progress across the files: the files done so far, then the one running.
  let done = { bytes: 0, lines: 0, counts: emptyCounts() };
  const totalBytes = await totalSize(p);
  const progress = (ev: ProgressEvent): void =>
    hooks.onProgress?.({ bytesDone: done.bytes + ev.bytesDone, totalBytes, lines: done.lines + ev.lines, counts: add(done.counts, ev.counts), elapsedS: elapsed() });

  for (const [k, f] of p.files.entries()) {
    if (k > 0 && hooks.signal?.aborted) {
      failure = new SluiceError('E_INTERRUPTED', `interrupted before ${f.name}; ${oneTransaction(p) ? 'the bundle was rolled back' : 'the files before it are committed'}`);
      failedCode = 130;
      stopText = failure.message;
      endOutcome = 'interrupted';
      endChange = (await writer.end('interrupted', results[results.length - 1]?.summary.dataLines ?? 0))?.change;
      break;
    }
    let r: ImportResult;
    try {
      r = await writer.run(f.options, {
        signal: hooks.signal,
        onWaiting: hooks.onWaiting,
        onStarted: k === 0 ? hooks.onStarted : undefined,
        onProgress: progress,
      });
    } catch (err) {
      const e = inFile(asSluiceError(err), f.name);
      // Before the first file holds the database, nothing was written: the error is the whole answer.
      if (k === 0) {
        await writer.terminate();
        throw e;
      }
      failure = e;
      failedCode = 3;
      stopText = e.message;
      endOutcome = 'failed';
      endChange = (await writer.end('failed', results[results.length - 1]?.summary.dataLines ?? 0))?.change;
      break;
    }
    results.push({ name: f.name, className: f.className, summary: r.summary, rows: r.rows, cells: r.cells });
    done = { bytes: done.bytes + r.summary.dataSize, lines: done.lines + r.summary.dataLines, counts: add(done.counts, r.summary.counts) };
    if (r.error) {
      failure = inFile(r.error, f.name);
      failedCode = r.exitCode;
      stopText = `${f.name}: ${r.summary.stopMessage ?? r.error.message}`;
      break;
    }
  }

  const last = results[results.length - 1];
  const change = endChange !== undefined ? endChange : (last?.summary.change ?? null);
  const simulate = (p.files[0] as BundleFile).options.simulate;
  if (failure) {
    // The files before the one that failed: rolled back with it in one transaction; committed with --chunk-size.
    const before = endChange !== undefined ? results : results.slice(0, -1);
    for (const r of before) {
      const s = r.summary;
      if (oneTransaction(p)) {
        s.rolledBack = add(s.counts, s.rolledBack ?? emptyCounts());
        s.counts = emptyCounts();
        s.outcome = 'rolled back';
      }
    }
  }
  for (const r of results) r.summary.change = simulate ? null : change;
  const ran = new Set(results.map((r) => r.name));
  const summary: BundleSummary = {
    name: p.name,
    order: p.files.map((f) => ({ name: f.name, className: f.className })),
    notRun: p.files.filter((f) => !ran.has(f.name)).map((f) => f.name),
    simulate,
    counts: results.reduce((c, r) => add(c, r.summary.counts), emptyCounts()),
    lines: results.reduce((n, r) => n + r.summary.dataLines, 0),
    elapsedS: elapsed(),
    change: simulate ? null : change,
    outcome: endOutcome ?? last?.summary.outcome ?? 'failed',
    stopMessage: stopText,
  };
  const exitCode = failure ? failedCode : summary.counts.errors > 0 ? 1 : 0;
  return { summary, files: results, exitCode, error: failure };
}

async function totalSize(p: BundlePlan): Promise<number | null> {
  let n = 0;
  for (const f of p.files) {
    try {
      n += (await stat(f.options.file)).size;
    } catch {
      return null;
    }
  }
  return n;
}
