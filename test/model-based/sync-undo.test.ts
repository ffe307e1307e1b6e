/**
 * `sluice undo` of syncs, as a property: generated data sources (delete policy, claim) and
 * sequences of syncs (full, incremental and load-only feeds; records added, changed, left
 * out, in error; objects made by hand beside them), then every sync undone newest first.
 * After each undo the database is exactly as it was before that sync — every class table,
 * link table and the source's replicas (all but when a record was last seen) — and an undo
 * of the last undo gives back the state after the last sync.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { normalizeImportOptions } from '../../src/engine/options.js';
import { runImport } from '../../src/engine/run.js';
import { FP_COLUMN } from '../../src/model/schema.js';
import { initStore, openStore, resolveModel } from '../../src/model/store.js';
import { sourceRunOptions } from '../../src/cli/sync.js';
import { sourceConfig } from '../../src/sync/config.js';
import { ensureSourceTables, getSource, insertSource } from '../../src/sync/store.js';
import { runUndo } from '../../src/undo/run.js';

const fuzz = Number(process.env.SLUICE_FUZZ ?? 0);
const numRuns = Number.isInteger(fuzz) && fuzz > 0 ? Math.ceil(fuzz / 10) : 20;
const seed = process.env.SLUICE_FUZZ_SEED !== undefined ? Number(process.env.SLUICE_FUZZ_SEED) : 20_261_207;

const RECORDS = [1, 2, 3, 4, 5, 6];
const CLASSES = ['Organization', 'Person'];

interface SyncSpec {
  mode: 'full' | 'incremental' | 'load-only';
  /** record → its name in this feed ('' for a record in error: an unknown organization) */
  records: [number, string][];
  stopOnError: boolean;
}

interface CaseSpec {
  policy: 'ignore' | 'delete' | 'update' | 'update-then-delete';
  claim: boolean;
  /** records whose person exists before any sync, made by hand */
  hand: number[];
  syncs: SyncSpec[];
}

const syncArb: fc.Arbitrary<SyncSpec> = fc.record({
  mode: fc.constantFrom('full', 'full', 'incremental', 'load-only'),
  records: fc.uniqueArray(fc.tuple(fc.constantFrom(...RECORDS), fc.constantFrom('A', 'B', 'C', '')), { selector: ([r]) => r, maxLength: 6 }),
  stopOnError: fc.boolean(),
});

const caseArb: fc.Arbitrary<CaseSpec> = fc.record({
  policy: fc.constantFrom('ignore', 'delete', 'update', 'update-then-delete'),
  claim: fc.boolean(),
  hand: fc.subarray(RECORDS, { maxLength: 3 }),
  syncs: fc.array(syncArb, { minLength: 1, maxLength: 4 }),
});

/** The class tables (fingerprints aside), the link table and the replicas' state. */
function state(path: string): Record<string, unknown[]> {
  const db = new Database(path, { readonly: true });
  try {
    const out: Record<string, unknown[]> = {};
    for (const name of CLASSES) {
      const cols = (db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all(name) as string[]).filter((c) => c !== FP_COLUMN);
      out[name] = db.prepare(`SELECT ${cols.map((c) => `"${c}"`).join(', ')} FROM "${name}" ORDER BY ${cols.includes('id') ? 'id' : 'from_id, to_id'}`).raw().all();
    }
    const replicas = db.prepare(`SELECT 1 FROM sqlite_master WHERE name = '_sluice_replica'`).get();
    out.replicas = replicas ? db.prepare('SELECT record, object_id, owned, status, error, cells, absent_since FROM _sluice_replica ORDER BY record').raw().all() : [];
    return out;
  } finally {
    db.close();
  }
}

async function importFile(db: string, file: string, className: string, keys: string): Promise<void> {
  const r = await runImport(normalizeImportOptions({ db, file, className, keys, progress: 'none', output: 'summary', user: 'test' }));
  assert.equal(r.exitCode, 0);
}

async function runSync(db: string, file: string, s: SyncSpec): Promise<number | null> {
  const { db: conn, model } = openStore(db, { create: false, readonly: true });
  let o;
  try {
    const src = getSource(conn, 'hr');
    o = sourceRunOptions(model, src, { db, file, progress: 'none', output: 'summary', user: 'test', stopOnError: s.stopOnError, chunkSize: undefined }, {
      mode: s.mode === 'incremental' ? 'incremental' : 'full',
      force: true,
      loadOnly: s.mode === 'load-only',
      seenFromReplicas: false,
    });
  } finally {
    conn.close();
  }
  const r = await runImport(o);
  // A sync stopped by a row in error wrote nothing to undo.
  return r.exitCode === 3 ? null : r.summary.change;
}

test(`undoing generated syncs newest first gives back the database before each (${numRuns} cases, seed ${seed})`, async () => {
  const scratch = mkdtempSync(join(process.env.SLUICE_TEST_TMP ?? tmpdir(), 'sluice-sync-undo-'));
  let k = 0;
  try {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c: CaseSpec) => {
        const dir = join(scratch, String(k++));
        mkdirSync(dir);
        const db = join(dir, 'case.db');
        try {
          const model = resolveModel('cmdb');
          initStore(db, model);
          await importFile(db, writeFile(dir, 'orgs.csv', 'name\nDemo\n'), 'Organization', 'name');
          if (c.hand.length > 0) {
            await importFile(db, writeFile(dir, 'hand.csv', 'name,first_name,email,org_id->name\n' + c.hand.map((i) => `Hand${i},h,p${i}@x,Demo\n`).join('')), 'Person', 'email');
          }
          const { db: conn } = openStore(db, { create: false });
          try {
            const updates = c.policy === 'update' || c.policy === 'update-then-delete' ? { 'delete-update': 'status=inactive' } : {};
            const cfg = sourceConfig(model, { name: 'hr', class: 'Person', keys: 'email', 'delete-policy': c.policy, ...updates, claim: c.claim });
            conn.transaction(() => {
              ensureSourceTables(conn);
              insertSource(conn, cfg);
            })();
          } finally {
            conn.close();
          }
          const done: { change: number; before: Record<string, unknown[]>; after: Record<string, unknown[]> }[] = [];
          for (const [n, s] of c.syncs.entries()) {
            const rows = s.records.map(([r, name]) => `${r},${name || 'X'},F${r},p${r}@x,${name === '' ? 'Nowhere' : 'Demo'}\n`).join('');
            const before = state(db);
            const change = await runSync(db, writeFile(dir, `feed${n}.csv`, `source_id,name,first_name,email,org_id->name\n${rows}`), s);
            if (change !== null) done.push({ change, before, after: state(db) });
          }
          const last = done[done.length - 1];
          if (last) {
            const u = runUndo({ db, change: last.change, simulate: false, force: false, comment: '' });
            assert.equal(u.outcome, 'committed', JSON.stringify(u.conflicts));
            assert.deepEqual(state(db), last.before, `undo of sync change ${last.change}`);
            const redo = runUndo({ db, change: u.undoChange as number, simulate: false, force: false, comment: '' });
            assert.equal(redo.outcome, 'committed', JSON.stringify(redo.conflicts));
            assert.deepEqual(state(db), last.after, `undo of undo change ${u.undoChange}`);
            last.change = redo.undoChange as number;
          }
          for (const d of [...done].reverse()) {
            const u = runUndo({ db, change: d.change, simulate: false, force: false, comment: '' });
            assert.equal(u.outcome, 'committed', `change ${d.change}: ${JSON.stringify(u.conflicts)}`);
            assert.deepEqual(state(db), d.before, `undo of change ${d.change}`);
          }
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns, seed },
    );
  } catch (e) {
    // fast-check keeps the failed assertion as the cause, which the runner does not print.
    const cause = (e as Error & { cause?: unknown }).cause;
    throw cause instanceof Error ? new Error(`${(e as Error).message}\n${cause.message}`) : e;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

function writeFile(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
