/**
 * `sluice undo`, as a property: generated models and import runs (creates, updates, deletes,
 * link-set edits, chunked and failing runs among them), applied by the engine, then every
 * change they committed undone newest first, take the database back to the state it was
 * created in — every class table and link table row for row, every column but the
 * fingerprint cache, which an undo clears. Each undo meets no conflict, since each finds the
 * database as its change left it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { buildModel } from '../../src/model/load.js';
import { FP_COLUMN } from '../../src/model/schema.js';
import { initStore } from '../../src/model/store.js';
import type { ModelFile } from '../../src/model/types.js';
import { runUndo } from '../../src/undo/run.js';
import { type Case, csvOf } from './case.js';
import { STAGE_CONFIGS, optionsOf } from './engine.js';
import { caseArb } from './generators.js';
import { runStages } from './pipeline.js';

const fuzz = Number(process.env.SLUICE_FUZZ ?? 0);
const numRuns = Number.isInteger(fuzz) && fuzz > 0 ? fuzz : 150;
const seed = process.env.SLUICE_FUZZ_SEED !== undefined ? Number(process.env.SLUICE_FUZZ_SEED) : 20_261_206;

/** Every class table (all columns but the fingerprint) and link table, in key order. */
function tables(path: string, model: ModelFile): Record<string, unknown[]> {
  const db = new Database(path, { readonly: true });
  try {
    const out: Record<string, unknown[]> = {};
    for (const [name, cls] of Object.entries(model.classes)) {
      const cols = (db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all(name) as string[]).filter((c) => c !== FP_COLUMN);
      out[name] = db.prepare(`SELECT ${cols.map((c) => `"${c}"`).join(', ')} FROM "${name}" ORDER BY id`).raw().all();
      for (const [code, a] of Object.entries(cls.attributes)) {
        if (a.type === 'links') out[`${name}_${code}`] = db.prepare(`SELECT from_id, to_id FROM "${name}_${code}" ORDER BY from_id, to_id`).raw().all();
      }
    }
    return out;
  } finally {
    db.close();
  }
}

/** The changes the runs made that wrote something (not the seeds of sluice init), newest first. */
function writingChanges(path: string): number[] {
  const db = new Database(path, { readonly: true });
  try {
    return db
      .prepare(`SELECT DISTINCT h.change_id FROM _sluice_history h JOIN _sluice_change c ON c.id = h.change_id WHERE c.comment <> 'sluice init: seed objects' ORDER BY h.change_id DESC`)
      .pluck()
      .all() as number[];
  } finally {
    db.close();
  }
}

test(`undoing every change of ${numRuns} generated cases, newest first, gives back the database they started from (seed ${seed})`, async () => {
  const scratch = mkdtempSync(join(process.env.SLUICE_TEST_TMP ?? tmpdir(), 'sluice-undo-'));
  let k = 0;
  try {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c: Case) => {
        const dir = join(scratch, String(k++));
        const db = join(dir, 'case.db');
        mkdirSync(dir);
        try {
          initStore(db, buildModel(c.model, 'case model'));
          const before = tables(db, c.model);
          for (const [n, run] of c.runs.entries()) {
            const file = join(dir, `run${n + 1}.csv`);
            writeFileSync(file, csvOf(run));
            try {
              runStages(optionsOf(db, file, run, STAGE_CONFIGS[1] as (typeof STAGE_CONFIGS)[number]), Buffer.from(csvOf(run)), 0);
            } catch {
              // A run refused before its first row wrote nothing.
            }
          }
          for (const change of writingChanges(db)) {
            const r = runUndo({ db, change, simulate: false, force: false, comment: '', user: 'test' });
            assert.equal(r.outcome, 'committed', `undo of change ${change}: ${JSON.stringify(r.conflicts)}`);
            assert.deepEqual(r.conflicts, []);
          }
          assert.deepEqual(tables(db, c.model), before);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns, seed },
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
