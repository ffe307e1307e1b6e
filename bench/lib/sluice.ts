/** Sluice as a contestant: the built CLI, driven exactly as a user runs it. */
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import type { Contestant, ContestantRun, RunInput } from './contestant.js';
import { sluice } from './db.js';
import { failure } from './contestant.js';
import { measure } from './measure.js';
import { SLUICE_CLI } from './paths.js';

/** Extra arguments for every measured Sluice run, e.g. BENCH_SLUICE_ARGS="--workers 2". */
export function extraSluiceArgs(): string[] {
  const v = process.env.BENCH_SLUICE_ARGS?.trim();
  return v ? v.split(/\s+/) : [];
}

export function sluiceImportArgs(input: RunInput, extra: string[] = extraSluiceArgs()): string[] {
  return ['import', '--class', 'Person', '--file', input.file, '--keys', 'email', '--output', 'summary', '--progress', 'none', '--db', input.db, ...extra];
}

/**
 * The figures of the summary report (`#Key: value` lines), under the JSON report's
 * names. The summary is used because the JSON report lists every created row.
 */
export function sluiceSummary(stdout: string): Record<string, unknown> | null {
  const fields: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^#([^:]+): ?(.*)$/.exec(line);
    if (m) fields[m[1] as string] = m[2] as string;
  }
  if (fields['Data Lines'] === undefined) return null;
  const num = (k: string): number => Number(/^-?[\d.]+/.exec(fields[k] ?? '')?.[0] ?? NaN);
  return {
    lines: num('Data Lines'),
    created: num('Created'),
    updated: num('Updated'),
    unchanged: num('Unchanged'),
    deleted: num('Deleted'),
    skipped: num('Skipped'),
    errors: num('Issues'),
    rows_per_s: num('Rows/s'),
    peak_rss_bytes: num('Peak memory') * 1048576,
    outcome: fields.Result,
  };
}

export async function runSluice(input: RunInput, extra: string[] = extraSluiceArgs()): Promise<ContestantRun> {
  const measured = await measure(process.execPath, [SLUICE_CLI, ...sluiceImportArgs(input, extra)], { stdoutLimit: 64 * 1024 });
  const report = sluiceSummary(measured.stdout);
  const error = failure(measured) ?? (report ? null : `unreadable summary report: ${measured.stdout.slice(0, 300)}`);
  return { measured, rows: typeof report?.lines === 'number' ? report.lines : null, report, error };
}

export const sluiceContestant: Contestant = {
  id: 'sluice',
  label: 'sluice',
  usesDb: true,
  run: (input) => runSluice(input),
};

/** The data source a sync bench feeds: Person keyed on email. */
export const BENCH_SOURCE = 'bench';

/**
 * A feed as a data source sends it: every record with its key in the source first. The
 * fixtures write one record per line and an email in every record, which is its key.
 */
export function syncFeed(file: string): string {
  const out = file.replace(/\.csv$/, '.sync.csv');
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(file).mtimeMs) return out;
  const lines = readFileSync(file, 'utf8').split('\n');
  const email = /(?:^|,)([^,"@]*@[^,"]*)(?:,|$)/;
  const text = lines.map((l, k) => (l === '' ? l : k === 0 ? `source_id,${l}` : `${email.exec(l)?.[1] ?? ''},${l}`)).join('\n');
  writeFileSync(`${out}.tmp`, text);
  renameSync(`${out}.tmp`, out);
  return out;
}

export function sluiceSyncArgs(input: RunInput, extra: string[] = extraSluiceArgs()): string[] {
  return ['sync', '--source', BENCH_SOURCE, '--file', syncFeed(input.file), '--output', 'summary', '--progress', 'none', '--db', input.db, ...extra];
}

/** A database ready for syncs: the source defined (its objects come from a first sync). */
export function addBenchSource(db: string): void {
  sluice(['source', 'add', '--db', db, '--name', BENCH_SOURCE, '--class', 'Person', '--keys', 'email']);
}

export const sluiceSyncContestant: Contestant = {
  id: 'sluice_sync',
  label: 'sluice sync',
  usesDb: true,
  async run(input: RunInput): Promise<ContestantRun> {
    const measured = await measure(process.execPath, [SLUICE_CLI, ...sluiceSyncArgs(input)], { stdoutLimit: 64 * 1024 });
    const report = sluiceSummary(measured.stdout);
    const error = failure(measured) ?? (report ? null : `unreadable summary report: ${measured.stdout.slice(0, 300)}`);
    return { measured, rows: typeof report?.lines === 'number' ? report.lines : null, report, error };
  },
};
