/** `sluice import --bundle DIR_OR_MANIFEST`: several files as one run (engine/bundle.ts). */
import { withCells } from '../report/cells.js';
import type { RowStatus } from '../report/types.js';
import { createWriteStream } from 'node:fs';
import { SluiceError } from '../base/errors.js';
import { bundleModel, bundleOptions, planBundle } from '../engine/bundle.js';
import { runBundleOnThread } from '../engine/bundle-coordinator.js';
import { listBundle } from '../engine/bundle-manifest.js';
import type { RawImportOptions } from '../engine/options.js';
import { type BundleSection, writeBundleLog, writeBundleReport } from '../report/bundle.js';
import { progressSink } from '../report/progress.js';
import { maskUrl } from '../store/postgres/url.js';
import { checkWritable } from './import.js';

/** Options that name one file's input: a bundle's files come from the directory or the manifest. */
const NOT_WITH_BUNDLE: readonly (keyof RawImportOptions & string)[] = ['className', 'file'];
const OPTION_NAME: Record<string, string> = { className: '--class', file: '--file' };

export async function executeBundle(path: string, raw: RawImportOptions): Promise<number> {
  for (const k of NOT_WITH_BUNDLE) {
    if (raw[k] !== undefined) {
      const o = OPTION_NAME[k] as string;
      throw new SluiceError('E_USAGE', `${o} cannot be given with --bundle: each file's ${k === 'file' ? 'path' : 'class'} comes from the bundle (its file names, or its bundle.json manifest)`, { option: o });
    }
  }
  if (path.trim() === '') throw new SluiceError('E_USAGE', '--bundle: is empty (a directory of files named after their classes, or a bundle.json manifest)', { option: '--bundle' });
  const base = bundleOptions(raw);
  if (base.log !== undefined) checkWritable(base.log);
  const model = await bundleModel(base.db);
  const { entries, manifest } = listBundle(model, path);
  const plan = await planBundle(model, manifest ?? path, entries, raw);

  const progress = progressSink(base.progress);
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const r = await runBundleOnThread(plan, {
      signal: stop.signal,
      onProgress: (p) => progress.update(p),
      onWaiting: () => process.stderr.write(`sluice: another import is writing to ${maskUrl(base.db)}; waiting for it to finish…\n`),
    });
    const last = r.files[r.files.length - 1];
    if (last) progress.done({ ...last.summary, counts: r.summary.counts, dataLines: r.summary.lines, outcome: r.summary.outcome });
    // Each file's rows as a report shows them: the details table with their cells, the JSON report without its unchanged rows (all with --log).
    const json = base.log === undefined ? (s: RowStatus): boolean => s !== 'unchanged' : null;
    const sections = (kind: 'details' | 'json' | null): BundleSection[] =>
      r.files.map((f) => ({ name: f.name, summary: f.summary, rows: kind === null || !f.rows ? null : kind === 'json' ? f.rows.batches(json) : withCells(f.rows.batches(), f.cells) }));
    try {
      if (base.log !== undefined) await writeLog(base.log, sections('details'));
      await writeBundleReport(process.stdout, base.output, r.summary, sections(base.output === 'json' || base.output === 'details' ? base.output : null));
    } finally {
      for (const f of r.files) f.rows?.close();
    }
    if (r.error && base.output !== 'retcode') process.stderr.write(`sluice: ${r.summary.stopMessage ?? r.error.message}\n`);
    return r.exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function writeLog(path: string, sections: BundleSection[]): Promise<void> {
  const file = createWriteStream(path);
  const closed = new Promise<void>((resolve, reject) => {
    file.once('close', resolve);
    file.once('error', reject);
  });
  closed.catch(() => undefined);
  try {
    await writeBundleLog(file, sections);
  } catch (err) {
    file.destroy();
    await closed.catch(() => undefined);
    throw err;
  }
  file.end();
  await closed;
}
