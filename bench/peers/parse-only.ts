/**
 * The parse-only rate (SPEC §8): csv-parse over the file's bytes with the options Sluice's
 * workers use (src/resolve/worker.ts), counting records and nothing else. It is the ceiling of
 * one thread's decode+parse stage; Sluice spreads that stage over its worker threads.
 *
 *   node dist/bench/peers/parse-only.js FILE   → {"rows": N}   (data rows, header excluded)
 */
import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse, type Options } from 'csv-parse';
import { type Contestant, type ContestantRun, type RunInput, failure, lastJsonLine } from '../lib/contestant.js';
import { measure } from '../lib/measure.js';
import { PARSE_ONLY } from '../lib/paths.js';

/** As in src/resolve/worker.ts, for a comma-separated file with the default qualifier. */
export const SLUICE_PARSE_OPTIONS: Options = {
  delimiter: ',',
  quote: '"',
  record_delimiter: ['\r\n', '\n', '\r'],
  relax_column_count: true,
  trim: true,
  skip_empty_lines: true,
  info: true,
};

export function countRecords(file: string): Promise<number> {
  return new Promise((done, fail) => {
    let n = 0;
    const parser = createReadStream(file, { highWaterMark: 1 << 20 }).pipe(parse(SLUICE_PARSE_OPTIONS));
    // Draining in a loop on 'readable' costs less per record than async iteration.
    parser.on('readable', () => {
      while (parser.read() !== null) n++;
    });
    parser.on('end', () => done(n));
    parser.on('error', fail);
  });
}

export async function runParseOnly(input: RunInput): Promise<ContestantRun> {
  const measured = await measure(process.execPath, [PARSE_ONLY, input.file]);
  const report = lastJsonLine(measured.stdout);
  const error = failure(measured) ?? (report ? null : `no JSON line in the output: ${measured.stdout.slice(0, 300)}`);
  return { measured, rows: typeof report?.rows === 'number' ? report.rows : null, report, error };
}

export const parseOnly: Contestant = {
  id: 'parse_only',
  label: 'parse only (csv-parse)',
  usesDb: false,
  run: runParseOnly,
};

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const file = process.argv[2];
  if (file === undefined) {
    process.stderr.write('usage: parse-only FILE\n');
    process.exitCode = 2;
  } else {
    countRecords(file).then(
      (n) => process.stdout.write(JSON.stringify({ rows: Math.max(0, n - 1) }) + '\n'),
      (err: unknown) => {
        process.stderr.write(`parse-only: ${(err as Error).message}\n`);
        process.exitCode = 1;
      },
    );
  }
}
