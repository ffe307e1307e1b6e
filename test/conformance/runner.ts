/**
 * Runs conformance cases through the CLI's commands (runCommand, helpers/cli.ts) in as few
 * imports as they allow. An import costs its threads (most of a second for a few bytes,
 * with a process of its own), so the cases one file
 * can hold together — same header line, separator, qualifier and quote leniency — are
 * imported as one file, each case's rows told apart by the lines they come from:
 *
 * - a headerless case gets a generated header, `c1,c2,…` joined by its separator;
 * - cases with the same header line share a file that has it once;
 * - the batch goes on past row errors (--no-stop-on-error), so a ragged row stays a row
 *   error of its own case, and only a malformed case could stop it (failing its batch);
 * - every case but the last ends with a line break, so each starts a line; the last (the
 *   one about the end of the input, if any) ends the file as it ends.
 *
 * Every run imports into one class of a database per lane; each database is exported once
 * at the end, and the rows are matched to the details table by id. A case whose input must
 * stop the run is imported alone.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import pLimit from 'p-limit';
import { type CliResult, runCommand, sandbox } from '../helpers/cli.js';
import { detailsOf } from '../helpers/fixtures.js';
import type { UpstreamCase } from './corpora.js';

/** What Sluice should do with a case. */
export interface Expectation {
  /** the rows imported, in order */
  rows?: string[][];
  /** lines of the case's input (1-based) whose rows are row errors */
  rowErrors?: number[];
  /** the import stops (exit 3) naming a line */
  stops?: boolean;
  /** the rows imported with --relax-quotes */
  relaxed?: string[][];
}

export interface Job {
  c: UpstreamCase;
  expect: Expectation;
}

/** The rows one case gave in a batch, or why the batch gave none. */
export type Read = { rows: string[][]; rowErrors: number[] } | { failure: string };

export interface Outcome {
  read?: Read;
  relaxed?: Read;
  /** the run of the case alone that should stop, and the number of lines of its file */
  stopped?: { result: CliResult; lines: number };
}

const CLASS = 'Conformance';
/** Concurrent imports, each into its own database (a run holds its database's write lock). */
const LANES = Math.max(2, Math.min(4, availableParallelism()));
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const LF = 10;
const CR = 13;

/** One case's input within a batch file. */
interface Part {
  job: Job;
  relaxed: boolean;
  /** the case's input in the file (without the header line a batch has once) */
  text: Buffer;
  /** the case is about the end of the input: its part ends the file */
  atEnd: boolean;
  /** the batch file's line on which the part starts */
  firstLine: number;
  /** lines of the case's input before the part (its header line, when the batch has it once) */
  skipped: number;
  created: { line: number; id: string }[];
  rowErrors: number[];
  other: string[];
}

interface Batch {
  relax: boolean;
  separator: string | null;
  qualifier: string;
  /** the header line, line break included */
  header: Buffer;
  /** the attribute code of each header column */
  codes: string[];
  parts: Part[];
  failure: string | null;
  /** the database the batch was imported into (ids are per database) */
  db: string;
}

interface StopRun {
  file: Buffer;
  args: string[];
  jobs: Job[];
  result: CliResult | null;
}

/** Line breaks as Sluice counts lines: LF, CRLF and a lone CR each end one. */
function lineBreaks(b: Buffer): number {
  let n = 0;
  for (let i = 0; i < b.length; i++) if (b[i] === LF || (b[i] === CR && b[i + 1] !== LF)) n++;
  return n;
}

/** The first line (without its break) and the rest after the break. */
function splitFirstLine(b: Buffer): { line: Buffer; breakBytes: Buffer; rest: Buffer } {
  let i = 0;
  while (i < b.length && b[i] !== LF && b[i] !== CR) i++;
  const len = b[i] === CR && b[i + 1] === LF ? 2 : i < b.length ? 1 : 0;
  return { line: b.subarray(0, i), breakBytes: b.subarray(i, i + len), rest: b.subarray(i + len) };
}

function startsWithBom(b: Buffer): boolean {
  return b.subarray(0, 3).equals(BOM);
}

/** A case's input followed by another's: it must end with a line break for the next to start a line. */
function terminated(b: Buffer): Buffer {
  return b.length === 0 || b[b.length - 1] === LF ? b : Buffer.concat([b, Buffer.from('\n')]);
}

function qualifierArgs(q: string): string[] {
  return q === '"' ? [] : [`--qualifier=${q}`];
}

/** The number of columns a headerless case is read with: its expected rows' first, else its first line's. */
function widthOf(c: UpstreamCase, rows: string[][] | undefined): number {
  const first = rows?.[0];
  if (first) return Math.max(1, first.length);
  if (rows) return 1;
  const line = splitFirstLine(c.input).line.toString('utf8');
  return line.split(c.separator).length;
}

class Plan {
  readonly batches = new Map<string, Batch>();
  readonly stops = new Map<string, StopRun>();
  /** header name (lower case) → attribute code */
  readonly fieldCodes = new Map<string, string>();
  maxWidth = 1;
  private unique = 0;

  add(job: Job): void {
    const { expect } = job;
    if (expect.rows) this.addToBatch(job, false, expect.rows);
    if (expect.relaxed) this.addToBatch(job, true, expect.relaxed);
    if (expect.stops) this.addStop(job);
  }

  private codesOf(fields: string[]): string[] {
    return fields.map((f) => {
      // Header names reach attributes by label; one shaped like a code would reach that code.
      if (/^[ch]\d+$/i.test(f)) throw new Error(`header name ${f} looks like an attribute code of the conformance class`);
      const k = f.toLowerCase();
      let code = this.fieldCodes.get(k);
      if (code === undefined) {
        code = `h${this.fieldCodes.size + 1}`;
        this.fieldCodes.set(k, code);
      }
      return code;
    });
  }

  private generatedHeader(c: UpstreamCase, width: number, bom: boolean): { header: Buffer; codes: string[] } {
    this.maxWidth = Math.max(this.maxWidth, width);
    const codes = Array.from({ length: width }, (_, i) => `c${i + 1}`);
    return { header: Buffer.concat([bom ? BOM : Buffer.alloc(0), Buffer.from(codes.join(c.separator) + '\n')]), codes };
  }

  private addToBatch(job: Job, relax: boolean, rows: string[][]): void {
    const { c } = job;
    const bom = startsWithBom(c.input);
    let key: string;
    let make: () => Omit<Batch, 'parts' | 'failure' | 'db'>;
    let text: Buffer;
    let skipped: number;
    if (c.header) {
      const { line, breakBytes, rest } = splitFirstLine(c.input);
      // A BOM belongs at the start of a file; a qualifier in the header line may quote a line break.
      const alone = bom || (c.qualifier !== '' && line.includes(c.qualifier));
      key = alone ? `alone ${this.unique++}` : `header ${line.toString('latin1')} ${c.separator} ${c.qualifier} ${relax}`;
      make = () => ({ relax, separator: null, qualifier: c.qualifier, header: Buffer.concat([line, breakBytes.length ? breakBytes : Buffer.from('\n')]), codes: this.codesOf(c.fields ?? []) });
      text = rest;
      skipped = 1;
    } else {
      const width = widthOf(c, rows);
      key = bom ? `alone ${this.unique++}` : `generated ${width} ${c.separator} ${c.qualifier} ${relax}`;
      make = () => ({ relax, separator: c.separator, qualifier: c.qualifier, ...this.generatedHeader(c, width, bom) });
      text = bom ? c.input.subarray(3) : c.input;
      skipped = 0;
    }
    // Only one case can end a file: one more about the end of the input takes another batch.
    const atEnd = /\bEOF\b/.test(c.name);
    let batch = this.batches.get(key);
    for (let k = 2; batch && atEnd && batch.parts.some((p) => p.atEnd); k++) batch = this.batches.get((key = `${key.replace(/ #\d+$/, '')} #${k}`));
    if (!batch) {
      batch = { ...make(), parts: [], failure: null, db: '' };
      this.batches.set(key, batch);
    }
    batch.parts.push({ job, relaxed: relax, text, atEnd, firstLine: 0, skipped, created: [], rowErrors: [], other: [] });
  }

  private addStop(job: Job): void {
    const { c } = job;
    let file: Buffer;
    const args = qualifierArgs(c.qualifier);
    if (c.header) {
      // The separator is detected from the header line, as for the batches.
      file = c.input;
    } else {
      // A headerless case gets a generated header. Its width is a guess when upstream reads
      // no rows, so the run goes on past row errors: only a malformed file can stop it.
      const bom = startsWithBom(c.input);
      const { header } = this.generatedHeader(c, widthOf(c, undefined), bom);
      file = Buffer.concat([header, bom ? c.input.subarray(3) : c.input]);
      args.push('--separator', c.separator, '--no-stop-on-error');
    }
    const key = JSON.stringify([file.toString('base64'), args]);
    const run = this.stops.get(key) ?? { file, args, jobs: [], result: null };
    run.jobs.push(job);
    this.stops.set(key, run);
  }

  /** every attribute code of the class */
  codes(): string[] {
    return [...Array.from({ length: this.maxWidth }, (_, i) => `c${i + 1}`), ...this.fieldCodes.values()];
  }

  model(): unknown {
    const attributes: Record<string, { type: 'string'; label?: string }> = {};
    for (let i = 1; i <= this.maxWidth; i++) attributes[`c${i}`] = { type: 'string' };
    for (const [name, code] of this.fieldCodes) attributes[code] = { type: 'string', label: name };
    return { classes: { [CLASS]: { attributes } } };
  }
}

/**
 * The file of a batch: its header line, then each case's input ending with a line break so
 * that the next starts a line, except the last one, which ends the file as it ends (the one
 * about the end of the input, if any).
 */
function batchFile(b: Batch): Buffer {
  b.parts.sort((x, y) => Number(x.atEnd) - Number(y.atEnd));
  const texts = b.parts.map((p, i) => (i === b.parts.length - 1 ? p.text : terminated(p.text)));
  let line = 1 + lineBreaks(b.header);
  b.parts.forEach((p, i) => {
    p.firstLine = line;
    line += lineBreaks(texts[i] as Buffer);
  });
  return Buffer.concat([b.header, ...texts]);
}

function describeRun(r: CliResult): string {
  return `exit ${String(r.code ?? r.signal)}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

async function runBatch(b: Batch, db: string, file: string): Promise<void> {
  b.db = db;
  const args = ['import', '--db', db, '--class', CLASS, '--file', file, '--progress', 'none', '--workers', '1', '--output', 'details', '--no-stop-on-error'];
  if (b.separator !== null) args.push('--separator', b.separator);
  args.push(...qualifierArgs(b.qualifier));
  if (b.relax) args.push('--relax-quotes');
  const r = await runCommand(args);
  if (r.code !== 0 && r.code !== 1) {
    b.failure = `the batch import stopped: ${describeRun(r)}`;
    return;
  }
  for (const row of detailsOf(r.stdout)) {
    const line = Number(row.line);
    const part = b.parts.findLast((p) => p.firstLine <= line);
    if (!part) {
      b.failure = `a row of line ${line}, before the first case: ${JSON.stringify(row)}`;
      continue;
    }
    const own = line - part.firstLine + 1 + part.skipped;
    if (row.status === 'created') part.created.push({ line, id: row.id as string });
    else if (row.status === 'error') part.rowErrors.push(own);
    else part.other.push(`line ${own}: ${row.status} ${row.message ?? ''}`);
  }
}

async function exportRows(db: string, codes: string[]): Promise<Map<string, Record<string, string>>> {
  const r = await runCommand(['export', '--db', db, '--class', CLASS, '--raw', '--columns', ['id', ...codes].join(',')]);
  if (r.code !== 0) throw new Error(`sluice export failed: ${describeRun(r)}`);
  const records = parse(r.stdout, { columns: true, bom: true }) as Record<string, string>[];
  return new Map(records.map((rec) => [rec.id as string, rec]));
}

export interface Results {
  outcomes: Map<Job, Outcome>;
  /** commands run: imports and exports */
  commands: number;
  cleanup(): void;
}

/** Import every job's input (batched), export the rows back, and say what each case gave. */
export async function runJobs(jobs: readonly Job[]): Promise<Results> {
  const plan = new Plan();
  for (const j of jobs) plan.add(j);
  const sb = sandbox();
  try {
    const template = join(sb.dir, 'template.db');
    const init = await runCommand(['init', '--db', template, '--model', sb.file('model.json', JSON.stringify(plan.model()))]);
    if (init.code !== 0) throw new Error(`sluice init failed: ${describeRun(init)}`);
    const dbs = Array.from({ length: LANES }, (_, i) => {
      const db = join(sb.dir, `lane-${i}.db`);
      copyFileSync(template, db);
      return db;
    });
    const free = [...dbs];
    const limit = pLimit(LANES);
    const batches = [...plan.batches.values()];
    const stops = [...plan.stops.values()];
    let n = 0;
    const onLane = (work: (db: string) => Promise<void>): Promise<void> =>
      limit(async () => {
        const db = free.pop() as string;
        try {
          await work(db);
        } finally {
          free.push(db);
        }
      });
    await Promise.all([
      ...batches.map((b) =>
        onLane(async (db) => {
          const file = join(sb.dir, `batch-${n++}.csv`);
          writeFileSync(file, batchFile(b));
          await runBatch(b, db, file);
        }),
      ),
      ...stops.map((s) =>
        onLane(async (db) => {
          const file = join(sb.dir, `stop-${n++}.csv`);
          writeFileSync(file, s.file);
          s.result = await runCommand(['import', '--db', db, '--class', CLASS, '--file', file, '--progress', 'none', '--workers', '1', ...s.args]);
        }),
      ),
    ]);
    const exports = await Promise.all(dbs.map((db) => exportRows(db, plan.codes())));
    const exported = new Map(dbs.map((db, i) => [db, exports[i] as Map<string, Record<string, string>>]));

    const outcomes = new Map<Job, Outcome>(jobs.map((j) => [j, {}]));
    for (const b of batches) {
      for (const p of b.parts) {
        let read: Read;
        if (b.failure !== null) read = { failure: b.failure };
        else if (p.other.length > 0) read = { failure: `unexpected statuses: ${p.other.join('; ')}` };
        else {
          const rows = exported.get(b.db);
          read = { rows: p.created.map(({ id }) => b.codes.map((code) => rows?.get(id)?.[code] ?? `<no exported row ${id}>`)), rowErrors: p.rowErrors };
        }
        const o = outcomes.get(p.job) as Outcome;
        if (p.relaxed) o.relaxed = read;
        else o.read = read;
      }
    }
    for (const s of stops) for (const j of s.jobs) (outcomes.get(j) as Outcome).stopped = { result: s.result as CliResult, lines: lineBreaks(s.file) + 1 };
    return { outcomes, commands: 1 + batches.length + stops.length + dbs.length, cleanup: () => sb.cleanup() };
  } catch (err) {
    sb.cleanup();
    throw err;
  }
}
