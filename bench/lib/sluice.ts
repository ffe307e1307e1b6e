/** Sluice as a contestant: the built CLI, driven exactly as a user runs it. */
import type { Contestant, ContestantRun, RunInput } from './contestant.js';
import { failure } from './contestant.js';
import { measure } from './measure.js';
import { SLUICE_CLI } from './paths.js';

/** Extra arguments for every measured Sluice run, e.g. BENCH_SLUICE_ARGS="--workers 2". */
export function extraSluiceArgs(): string[] {
  const v = process.env.BENCH_SLUICE_ARGS?.trim();
  return v ? v.split(/\s+/) : [];
}

export function sluiceImportArgs(input: RunInput, extra: string[] = extraSluiceArgs()): string[] {
  return ['import', '--class', 'Person', '--file', input.file, '--keys', 'email', '--output', 'json', '--progress', 'none', '--db', input.db, ...extra];
}

/**
 * The summary fields of the JSON report. The document lists every non-unchanged row after
 * the summary (a million on an initial load), so only its head is kept and parsed.
 */
export function sluiceSummary(stdout: string): Record<string, unknown> | null {
  const text = stdout.trim();
  const rowsAt = text.indexOf(',"rows":[');
  const doc = rowsAt >= 0 ? `${text.slice(0, rowsAt)}}` : text;
  try {
    const v = JSON.parse(doc) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export async function runSluice(input: RunInput): Promise<ContestantRun> {
  const measured = await measure(process.execPath, [SLUICE_CLI, ...sluiceImportArgs(input)], { stdoutLimit: 64 * 1024 });
  const report = sluiceSummary(measured.stdout);
  const error = failure(measured) ?? (report ? null : `unreadable JSON report: ${measured.stdout.slice(0, 300)}`);
  return { measured, rows: typeof report?.lines === 'number' ? report.lines : null, report, error };
}

export const sluiceContestant: Contestant = {
  id: 'sluice',
  label: 'sluice',
  usesDb: true,
  run: runSluice,
};
