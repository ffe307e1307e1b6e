/**
 * The parse-only rate (SPEC §8): the file framed and parsed on one thread exactly as Sluice
 * does it (src/input/frame.ts, then src/input/parse.ts as in src/resolve/worker.ts), counting
 * records and nothing else. It is the ceiling of one thread's decode+parse stage; Sluice
 * spreads the parse over its worker threads.
 *
 *   node dist/bench/peers/parse-only.js FILE   → {"rows": N}   (data rows, header excluded)
 */
import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_FRAME_BYTES } from '../../src/base/threads.js';
import { Framer } from '../../src/input/frame.js';
import { parseRecords } from '../../src/input/parse.js';
import { type Contestant, type ContestantRun, type RunInput, failure, lastJsonLine } from '../lib/contestant.js';
import { measure } from '../lib/measure.js';
import { PARSE_ONLY } from '../lib/paths.js';

export async function countRecords(file: string): Promise<number> {
  const framer = new Framer({ quote: 34, delimiter: 44, targetBytes: DEFAULT_FRAME_BYTES, maxRecordBytes: 16 * 1024 * 1024 });
  const opts = { delimiter: 44, quote: 34 };
  let n = 0;
  let header = true;
  const count = (frames: { bytes: Buffer; firstLine: number }[]): void => {
    for (const f of frames) {
      if (header) {
        header = false;
        continue;
      }
      n += parseRecords(f.bytes, f.firstLine, opts).records.length;
    }
  };
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) count(framer.push(chunk as Buffer));
  count(framer.end());
  return n;
}

export async function runParseOnly(input: RunInput): Promise<ContestantRun> {
  const measured = await measure(process.execPath, [PARSE_ONLY, input.file]);
  const report = lastJsonLine(measured.stdout);
  const error = failure(measured) ?? (report ? null : `no JSON line in the output: ${measured.stdout.slice(0, 300)}`);
  return { measured, rows: typeof report?.rows === 'number' ? report.rows : null, report, error };
}

export const parseOnly: Contestant = {
  id: 'parse_only',
  label: 'parse only (frame + parse)',
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
      (n) => process.stdout.write(JSON.stringify({ rows: n }) + '\n'),
      (err: unknown) => {
        process.stderr.write(`parse-only: ${(err as Error).message}\n`);
        process.exitCode = 1;
      },
    );
  }
}
