/**
 * Stage micro-benchmarks (SPEC §8) on an in-memory sample of the benchmark feed: frame,
 * parse, map+cast, resolve, the chunk codec between the threads, write planning and the
 * writer, each alone, on one thread. They show where a row's time goes;
 * the end-to-end scenarios show what the stages add up to.
 *
 *   node dist/bench/micro.js        (BENCH_MICRO_ROWS=N to change the sample, default 20,000)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import { Bench } from 'tinybench';
import { DEFAULT_SEED, PERSON_HEADER, organizationRows, personLine, personRow, wholeNumberFromEnv } from '../fixtures/generate.js';
import { DEFAULT_FRAME_BYTES } from '../src/base/threads.js';
import { type Frame, Framer } from '../src/input/frame.js';
import { parseRecords } from '../src/input/parse.js';
import { ensureLookupIndex } from '../src/model/schema.js';
import { configure, initStore, resolveModel } from '../src/model/store.js';
import type { ClassDef, Model } from '../src/model/types.js';
import { decodeChunk, encodeChunk, numericSlots } from '../src/resolve/codec.js';
import { Lookup } from '../src/resolve/lookup.js';
import type { ResolvedChunk } from '../src/resolve/protocol.js';
import { resolveChunk } from '../src/resolve/resolve.js';
import { compileDateFormat } from '../src/rows/dates.js';
import { buildPlan } from '../src/rows/header.js';
import { type MappedRows, mapRows } from '../src/rows/map.js';
import type { ImportPlan } from '../src/rows/plan.js';
import { Applier, type RunInfo } from '../src/write/apply.js';
import { isMain, runMain } from './lib/options.js';

/** As the engine's defaults (src/engine/options.ts) and worker (src/resolve/worker.ts). */
const FRAME_BYTES = DEFAULT_FRAME_BYTES;
const MAX_RECORD_BYTES = 16 * 1024 * 1024;
const READ_CHUNK = 1 << 20;
const PARSE_OPTIONS = { delimiter: 0x2c, quote: 0x22 };

interface Parsed {
  records: string[][];
  lines: Int32Array;
  bytes: number;
}

function sampleBytes(rows: number): Buffer {
  const parts = [PERSON_HEADER];
  for (let k = 0; k < rows; k++) parts.push(personLine(personRow(DEFAULT_SEED, k)));
  return Buffer.from(parts.join('\n') + '\n', 'utf8');
}

/** Frames as the engine reads them: the file arrives in 1 MiB chunks. */
function frameAll(bytes: Buffer): Frame[] {
  const framer = new Framer({ quote: 0x22, delimiter: 0x2c, targetBytes: FRAME_BYTES, maxRecordBytes: MAX_RECORD_BYTES });
  const out: Frame[] = [];
  for (let at = 0; at < bytes.length; at += READ_CHUNK) out.push(...framer.push(bytes.subarray(at, at + READ_CHUNK)));
  out.push(...framer.end());
  return out;
}

function parseFrame(f: Frame): Parsed {
  const { records, lines } = parseRecords(f.bytes, f.firstLine, PARSE_OPTIONS);
  return { records, lines, bytes: f.bytes.length };
}

/** A database with the organizations, and the sample's people when `withPeople`. */
function stageDb(path: string, model: Model, rows: number, withPeople: boolean): Database.Database {
  initStore(path, model);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  const person = model.classes.get('Person') as ClassDef;
  db.exec(ensureLookupIndex(person, ['email']));
  const addOrg = db.prepare(`INSERT INTO "Organization"(name, code, status) VALUES (?, ?, 'active')`);
  const orgId = new Map<string, number>();
  const addPerson = db.prepare(
    `INSERT INTO "Person"(first_name, name, email, phone, mobile_phone, function, employee_number, status, notify, org_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  db.transaction(() => {
    for (const [name, code] of organizationRows()) orgId.set(name as string, Number(addOrg.run(name, code).lastInsertRowid));
    if (!withPeople) return;
    for (let k = 0; k < rows; k++) {
      const p = personRow(DEFAULT_SEED, k);
      addPerson.run(p.first_name, p.name, p.email, p.phone, p.mobile_phone, p.function, p.employee_number, p.status, p.notify, orgId.get(p.org) ?? null);
    }
  })();
  db.close();
  // Read-only with the worker's settings: resolve runs against the committed state.
  const ro = new Database(path, { readonly: true, fileMustExist: true });
  ro.pragma('cache_size = -65536');
  ro.pragma('mmap_size = 268435456');
  return ro;
}

export async function micro(opts: { rows?: number; time?: number; iterations?: number } = {}): Promise<Bench> {
  const rows = opts.rows ?? wholeNumberFromEnv('BENCH_MICRO_ROWS', 20_000);
  const bytes = sampleBytes(rows);
  const frames = frameAll(bytes);
  const header = frames[0] as Frame;
  const dataFrames = frames.slice(1);
  const parsed = dataFrames.map(parseFrame);

  const model = resolveModel('cmdb');
  const person = model.classes.get('Person') as ClassDef;
  const headerCells = (parse(header.bytes) as string[][])[0] as string[];
  const plan: ImportPlan = buildPlan(model, person, headerCells, { keys: ['email'], action: 'upsert', ignoreEmpty: false });
  const mapOpts = { dates: compileDateFormat(undefined), keepCells: false };
  const mapAll = (): MappedRows[] => parsed.map((p) => mapRows(model, plan, p.records, p.lines, mapOpts));

  const dir = mkdtempSync(join(tmpdir(), 'sluice-micro-'));
  const emptyDb = stageDb(join(dir, 'empty.db'), model, rows, false);
  const fullDb = stageDb(join(dir, 'full.db'), model, rows, true);
  const emptyLookup = new Lookup(emptyDb);
  const fullLookup = new Lookup(fullDb);

  // resolveChunk fills in the mapped rows it is given, so each iteration gets fresh ones.
  let mapped: MappedRows[] = [];
  const freshMapped = (): void => {
    mapped = mapAll();
  };
  const resolveAll = (lookup: Lookup) => (): void => {
    mapped.forEach((m, i) => resolveChunk(model, plan, lookup, m, i, parsed[i]?.bytes ?? 0));
  };

  // The writer's stages apply chunks as they arrive from the workers (encoded, then decoded),
  // in a simulated run: every iteration rolls back and starts from the same state.
  const numeric = numericSlots(model, plan);
  const resolvedFrom = (lookup: Lookup): ResolvedChunk[] => mapAll().map((m, i) => resolveChunk(model, plan, lookup, m, i, parsed[i]?.bytes ?? 0));
  const resolvedEmpty = resolvedFrom(emptyLookup);
  const encodedEmpty = resolvedEmpty.map(encodeChunk);
  const encodedFull = resolvedFrom(fullLookup).map(encodeChunk);
  let chunks: ResolvedChunk[] = [];
  const decodeAll = (encoded: Uint8Array[]) => (): void => {
    chunks = encoded.map((b) => decodeChunk(b, numeric));
  };
  const run: RunInfo = { user: 'bench', comment: '', file: 'micro.csv', simulate: true, stopOnError: false, chunkSize: 0 };
  const writers = [join(dir, 'empty.db'), join(dir, 'full.db')].map((path) => {
    const db = new Database(path);
    configure(db, 'writer');
    return db;
  });
  const applyAll = (db: Database.Database, expect: 'created' | 'unchanged') => (): void => {
    const a = new Applier(db, model, plan, run);
    a.begin(plan.className, plan.action);
    for (const c of chunks) a.apply(c, false);
    a.finish(true, 'simulated', rows);
    // A stage that did other work than it is named for would measure nothing useful.
    if (a.counts[expect] !== rows) throw new Error(`writer stage: ${a.counts[expect]} rows ${expect}, expected ${rows}: ${JSON.stringify(a.counts)}`);
  };

  const bench = new Bench({
    name: `stages, ${rows.toLocaleString('en-US')} rows (${(bytes.length / 1e6).toFixed(1)} MB)`,
    time: opts.time ?? 1000,
    // The slow stages take a good fraction of a second per sample; a few samples suffice.
    iterations: opts.iterations ?? 8,
  });
  bench
    .add('frame', () => frameAll(bytes))
    .add('parse (parseRecords, per frame)', () => dataFrames.map(parseFrame))
    .add('map+cast', () => mapAll())
    .add('resolve, empty Person table', resolveAll(emptyLookup), { beforeEach: freshMapped })
    .add('resolve, every email matches', resolveAll(fullLookup), { beforeEach: freshMapped })
    .add('chunk codec: encode + decode (worker to writer)', () => resolvedEmpty.forEach((c) => decodeChunk(encodeChunk(c), numeric)))
    .add('write planning: every row unchanged (no write)', applyAll(writers[1] as Database.Database, 'unchanged'), { beforeEach: decodeAll(encodedFull) })
    .add('writer: every row a create (insert, history, touched keys)', applyAll(writers[0] as Database.Database, 'created'), { beforeEach: decodeAll(encodedEmpty) });
  try {
    await bench.run();
  } finally {
    for (const w of writers) w.close();
    emptyDb.close();
    fullDb.close();
    rmSync(dir, { recursive: true, force: true });
  }

  process.stdout.write(`${bench.name}: ${dataFrames.length} frames of up to ${FRAME_BYTES / 1024} KiB\n`);
  console.table(bench.table());
  const rates = bench.tasks.map((t) => {
    const r = t.result;
    const mean = r.state === 'completed' ? r.latency.mean : NaN;
    return { stage: t.name, 'rows/s (one thread)': Number.isFinite(mean) ? Math.round((rows * 1000) / mean).toLocaleString('en-US') : '-' };
  });
  console.table(rates);
  return bench;
}

if (isMain(import.meta.url)) runMain(() => micro());
