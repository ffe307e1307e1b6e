/**
 * A generated case through the engine: a fresh database created with the case's model, each
 * run imported into it, and after each run the report and the class tables read back in the
 * form the reference applier gives them (case.ts DbSnapshot).
 *
 * Two drivers: runImport itself (all its threads), and its stages on the calling thread
 * (pipeline.ts), fast enough for hundreds of cases and able to hold the workers behind the
 * writer on purpose.
 */
import { accessSync, constants, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { exitCodeFor } from '../../src/base/errors.js';
import { type ImportOptions, normalizeImportOptions } from '../../src/engine/options.js';
import { runImport } from '../../src/engine/run.js';
import { buildModel } from '../../src/model/load.js';
import { initStore } from '../../src/model/store.js';
import type { ModelFile, Scalar } from '../../src/model/types.js';
import { type Case, type DbObject, type DbSnapshot, type RunSpec, csvOf } from './case.js';
import { runStages } from './pipeline.js';
import { type RowReport, type RunReport, emptyCounts } from './reference.js';

export interface EngineConfig {
  name: string;
  /** runImport: the entry point with its threads; stages: its stages on this thread (pipeline.ts) */
  driver: 'runImport' | 'stages';
  /** --workers (runImport) */
  workers?: number;
  /** --frame-bytes; the default when absent */
  frameBytes?: number;
  /** stages: frames the workers resolve ahead of the writer */
  lag?: number;
}

/**
 * Every case runs under each of these: the workers as far ahead as they can be (one frame, all
 * of it resolved against the state the run started from), as close behind as they can be (each
 * record resolved once the chunks before it are committed), and in between.
 */
export const STAGE_CONFIGS: readonly EngineConfig[] = [
  { name: 'stages: one record a frame, each resolved as the writer reaches it', driver: 'stages', frameBytes: 1, lag: 0 },
  { name: 'stages: default frames', driver: 'stages', lag: 0 },
  { name: 'stages: 48-byte frames, four ahead', driver: 'stages', frameBytes: 48, lag: 4 },
];

/** runImport itself: some cases run under one of these too, in turn. */
export const THREAD_CONFIGS: readonly EngineConfig[] = [
  { name: 'runImport: one worker, one record a frame', driver: 'runImport', workers: 1, frameBytes: 1 },
  { name: 'runImport: defaults', driver: 'runImport' },
  { name: 'runImport: two workers, 48-byte frames', driver: 'runImport', workers: 2, frameBytes: 48 },
];

/** The engine's report of a run, with the message that stopped it. */
export type EngineRun = RunReport & { stop: string | null };

/**
 * Where the cases' databases go: a memory file system when the machine has one (closing a
 * WAL database syncs it, which on a disk cost half of each run), else the temporary directory.
 */
function scratchDir(): string {
  for (const dir of [process.env.SLUICE_TEST_TMP, '/dev/shm']) {
    if (!dir) continue;
    try {
      accessSync(dir, constants.W_OK);
      return dir;
    } catch {
      // Not there, or not writable: try the next.
    }
  }
  return tmpdir();
}

const SCRATCH = scratchDir();

/** A database just created with the last model asked for, copied for each run of a case (creating one costs more). */
let template: { model: string; dir: string; db: string } | null = null;
process.once('exit', () => {
  if (template) rmSync(template.dir, { recursive: true, force: true });
});

function freshDatabase(model: ModelFile, path: string): void {
  const key = JSON.stringify(model);
  if (template?.model !== key) {
    if (template) rmSync(template.dir, { recursive: true, force: true });
    const dir = mkdtempSync(join(SCRATCH, 'sluice-difftest-model-'));
    const db = join(dir, 'model.db');
    initStore(db, buildModel(model, 'case model'));
    template = { model: key, dir, db };
  }
  copyFileSync(template.db, path);
}

export async function runEngine(c: Case, cfg: EngineConfig): Promise<EngineRun[]> {
  const dir = mkdtempSync(join(SCRATCH, 'sluice-difftest-'));
  try {
    const db = join(dir, 'case.db');
    freshDatabase(c.model, db);
    const out: EngineRun[] = [];
    for (const [k, run] of c.runs.entries()) {
      const file = join(dir, `run${k + 1}.csv`);
      const text = csvOf(run);
      writeFileSync(file, text);
      const report = await importOne(db, file, run, text, cfg);
      out.push({ ...report, snapshot: readSnapshot(db, c.model) });
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function optionsOf(db: string, file: string, run: RunSpec, cfg: EngineConfig): ImportOptions {
  return normalizeImportOptions({
    db,
    file,
    className: run.className,
    keys: run.keys,
    action: run.action,
    ignoreEmpty: run.ignoreEmpty,
    stopOnError: run.stopOnError,
    chunkSize: run.chunkSize,
    simulate: run.simulate,
    output: 'details',
    progress: 'none',
    workers: cfg.workers,
    frameBytes: cfg.frameBytes,
    user: 'difftest',
  });
}

/** A run that stopped before its first row (exit 2): nothing read, nothing written. */
function refused(err: unknown): Omit<EngineRun, 'snapshot'> {
  const exitCode = exitCodeFor(err);
  if (exitCode !== 2) throw err;
  return { exitCode, usage: (err as Error).message, rows: [], counts: emptyCounts(), rolledBack: null, lastCommittedLine: null, dataLines: 0, stop: null };
}

async function importOne(db: string, file: string, run: RunSpec, text: string, cfg: EngineConfig): Promise<Omit<EngineRun, 'snapshot'>> {
  const o = optionsOf(db, file, run, cfg);
  if (cfg.driver === 'stages') {
    try {
      return runStages(o, Buffer.from(text), cfg.lag ?? 0);
    } catch (err) {
      return refused(err);
    }
  }
  let r: Awaited<ReturnType<typeof runImport>>;
  try {
    r = await runImport(o);
  } catch (err) {
    return refused(err);
  }
  const rows: RowReport[] = [];
  if (r.rows) {
    for await (const x of r.rows.rows()) rows.push({ line: x.line, status: x.status, id: x.id, changed: x.changed, message: x.message, warnings: x.warnings });
    r.rows.close();
  }
  const s = r.summary;
  return { exitCode: r.exitCode, usage: null, rows, counts: s.counts, rolledBack: s.rolledBack, lastCommittedLine: s.lastCommittedLine, dataLines: s.dataLines, stop: s.stopMessage };
}

/** The class tables and link tables of a database, as the comparison reads them. */
export function readSnapshot(path: string, model: ModelFile): DbSnapshot {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const seqOf = db.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').pluck();
    const out: DbSnapshot = {};
    for (const [name, cls] of Object.entries(model.classes)) {
      const attrs = Object.entries(cls.attributes);
      const links = new Map<string, Map<number, number[]>>();
      for (const [code, a] of attrs) {
        if (a.type !== 'links') continue;
        const members = new Map<number, number[]>();
        for (const { from_id, to_id } of db.prepare(`SELECT from_id, to_id FROM "${name}_${code}" ORDER BY from_id, to_id`).all() as { from_id: number; to_id: number }[]) {
          let list = members.get(from_id);
          if (!list) members.set(from_id, (list = []));
          list.push(to_id);
        }
        links.set(code, members);
      }
      const objects: DbObject[] = (db.prepare(`SELECT * FROM "${name}" ORDER BY id`).all() as Record<string, Scalar>[]).map((row) => {
        const values: Record<string, Scalar> = {};
        const sets: Record<string, number[]> = {};
        const id = row.id as number;
        for (const [code, a] of attrs) {
          if (a.type === 'links') sets[code] = links.get(code)?.get(id) ?? [];
          else values[code] = row[code] ?? null;
        }
        return { id, source: (row.source as string | null) ?? null, source_id: (row.source_id as string | null) ?? null, values, links: sets };
      });
      out[name] = { seq: (seqOf.get(name) as number | undefined) ?? 0, objects };
    }
    return out;
  } finally {
    db.close();
  }
}
