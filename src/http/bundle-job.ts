/**
 * A bundle over HTTP: a multipart POST /v1/import with several `file` parts. The parts are
 * spooled into a directory of their own (`TOKEN.upload/`, each under its file name), planned
 * at upload as `sluice import --bundle` plans a directory (engine/bundle.ts), and run as one
 * job: one change, one transaction by default. Its log is a directory too (`TOKEN.log/`,
 * one row spool per file), read back as a `#File: NAME` section per file.
 */
import { rmSync } from 'node:fs';
import { relative, isAbsolute } from 'node:path';
import { SluiceError, asSluiceError, exitCodeFor } from '../base/errors.js';
import { type BundleSummary, bundleOptions, planBundle } from '../engine/bundle.js';
import { runBundleOnThread } from '../engine/bundle-coordinator.js';
import { type BundleEntry, listBundle } from '../engine/bundle-manifest.js';
import type { RawImportOptions } from '../engine/options.js';
import { readStoredModel } from '../export/reader.js';
import { csvLine } from '../report/csv.js';
import { detailsHeader, detailsRow, jsonHead, jsonRow } from '../report/format.js';
import { bundleJsonHead } from '../report/bundle.js';
import type { ProgressEvent, RowBatches, RunSummary } from '../report/types.js';
import { escapeControls } from '../base/errors.js';
import { type Job, type JobStore, NO_RESULTS } from './jobs.js';
import { keepLog, logPath, uploadPath } from './joblog.js';

/** What a bundle job stores in place of import options: the classes (for tokens' rights) and the options for every file. */
export interface BundleJob {
  className: string;
  bundle: { raw: RawImportOptions };
}

/** What the change record and the report name an uploaded bundle by. */
export const UPLOADED_BUNDLE = '(upload)';

/** A finished bundle job's stored summary (Job.summary): the bundle's, and each file's. */
interface StoredBundle {
  bundle: BundleSummary;
  files: { name: string; summary: RunSummary }[];
}

/** Each of a manifest's files is one of the uploaded parts: a manifest may not read the server's files. */
function checkInside(dir: string, entries: readonly BundleEntry[]): void {
  for (const e of entries) {
    const rel = relative(dir, e.path);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.includes('/') || rel.includes('\\')) {
      throw new SluiceError('E_USAGE', `--bundle: ${e.origin}: names no uploaded file; over HTTP a manifest's files are the form's other "file" parts, by their file names`, { option: '--bundle' });
    }
  }
}

/** The entries and plan of an uploaded bundle, from its spool directory. */
async function planUpload(db: string, dir: string, raw: RawImportOptions): Promise<Awaited<ReturnType<typeof planBundle>>> {
  const o = bundleOptions({ ...raw, db });
  const model = await readStoredModel(o.db);
  const { entries } = listBundle(model, dir);
  checkInside(dir, entries);
  return planBundle(model, UPLOADED_BUNDLE, entries, { ...raw, db });
}

/** Check an uploaded bundle before it is queued: its files' classes, options, headers and order. Returns its classes, in the order they run. */
export async function checkBundleUpload(db: string, dir: string, raw: RawImportOptions): Promise<string[]> {
  const plan = await planUpload(db, dir, raw);
  return plan.files.map((f) => f.className);
}

/** Run a bundle job, once the write lock is free; record its outcome and keep its log. */
export async function runBundleJob(dbPath: string, store: JobStore, job: Job, signal: AbortSignal, onProgress: (p: ProgressEvent) => void, log: (m: string) => void): Promise<void> {
  const name = `job ${job.token.slice(0, 8)}…`;
  try {
    const { raw } = (JSON.parse(job.options) as BundleJob).bundle;
    const plan = await planUpload(dbPath, uploadPath(store.dir, job.token), raw);
    const r = await runBundleOnThread(plan, { signal, onProgress, onStarted: (change) => store.started(job.token, change) });
    try {
      await keepLog(store.dir, job.token, r.files, true);
    } catch (err) {
      rmSync(logPath(store.dir, job.token), { recursive: true, force: true });
      log(`${name}: its log could not be kept (${asSluiceError(err).message})`);
    } finally {
      for (const f of r.files) f.rows?.close();
    }
    const c = r.summary.counts;
    const stored: StoredBundle = { bundle: r.summary, files: r.files.map((f) => ({ name: f.name, summary: f.summary })) };
    store.finish(job.token, {
      state: r.error ? 'error' : 'done',
      exitCode: r.exitCode,
      message: r.error ? (r.summary.stopMessage ?? r.error.message) : null,
      results: { created: c.created, updated: c.updated, deleted: c.deleted, unchanged: c.unchanged, skipped: c.skipped, errors: c.errors },
      summary: JSON.stringify(stored),
    });
    log(`${name} ${r.error ? 'ended in error' : 'done'} (a bundle of ${plan.files.length} files, exit status ${r.exitCode})`);
  } catch (err) {
    const e = asSluiceError(err);
    store.finish(job.token, { state: 'error', exitCode: exitCodeFor(e), message: e.code === 'E_INTERNAL' ? 'internal error' : e.message, results: NO_RESULTS, summary: null });
    log(`${name} ended in error (${e.code})`);
  }
}

/** Whether a job's stored summary is a bundle's. */
export function isBundleSummary(summary: string): boolean {
  return (JSON.parse(summary) as Partial<StoredBundle>).bundle !== undefined;
}

/** A bundle job's log as CSV: each file's details table under a `#File: NAME` line, as `sluice import --bundle --log` writes it. */
export async function* bundleCsvLog(summary: string, rows: (part: number) => RowBatches | null): AsyncGenerator<string> {
  const s = JSON.parse(summary) as StoredBundle;
  for (const [k, f] of s.files.entries()) {
    yield `${k === 0 ? '' : '\n'}#File: ${escapeControls(f.name)}\n${csvLine(detailsHeader(f.summary.columns))}\n`;
    for await (const batch of rows(k) ?? []) {
      let text = '';
      for (const row of batch) text += csvLine(detailsRow(row, f.summary.columns.length)) + '\n';
      yield text;
    }
  }
}

/** A bundle job's log as JSON: the report of `sluice import --bundle --output json --log`, every row of every file. */
export async function* bundleJsonLog(summary: string, rows: (part: number) => RowBatches | null): AsyncGenerator<string> {
  const s = JSON.parse(summary) as StoredBundle;
  yield bundleJsonHead(s.bundle);
  for (const [k, f] of s.files.entries()) {
    yield `${k === 0 ? '\n' : ',\n'}{"file":${JSON.stringify(f.name)},${jsonHead(f.summary).slice(1)}`;
    let first = true;
    for await (const batch of rows(k) ?? []) {
      let text = '';
      for (const row of batch) {
        text += jsonRow(row, first);
        first = false;
      }
      yield text;
    }
    yield ']}';
  }
  yield ']}\n';
}
