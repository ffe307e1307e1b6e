/**
 * SyncWriter's replicas against a model of their meaning: each staged record written as if
 * one after the other in feed order (SPEC §5), whichever statements write them — a source's
 * first load, later flushes that move an object apart, records repeated within a flush and
 * across flushes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { CMDB_MODEL } from '../../../src/model/cmdb.js';
import { buildModel } from '../../../src/model/load.js';
import { ensureSourceTables } from '../../../src/sync/store.js';
import { SyncWriter, type SyncRunConfig, addIdList } from '../../../src/sync/writer.js';
import { IdSet } from '../../../src/sync/idset.js';

const model = buildModel(CMDB_MODEL, 'cmdb');
const REF = 1;

interface Replica {
  object_id: number | null;
  owned: number;
  status: string;
  error: string | null;
  cells: string | null;
}

interface Row {
  record: string;
  object: number | null;
  owned: boolean;
  error: string | null;
  cells: string;
}

const config: SyncRunConfig = {
  source: 'hr',
  ref: REF,
  mode: 'incremental',
  force: false,
  deletePolicy: 'ignore',
  deleteUpdate: {},
  retentionS: 0,
  maxAbsent: { percent: 50 },
  loadOnly: false,
  seenFromReplicas: false,
};

/** The replicas after `row`, applied alone: the meaning the statements must keep. */
function applyOne(model: Map<string, Replica>, row: Row): void {
  const old = model.get(row.record);
  if (!old) {
    model.set(row.record, { object_id: row.object, owned: row.owned ? 1 : 0, status: row.error === null ? 'synchronized' : 'new', error: row.error, cells: row.cells });
    return;
  }
  const object = row.object ?? old.object_id;
  model.set(row.record, {
    object_id: object,
    owned: row.object === null ? old.owned : row.owned ? 1 : 0,
    status: row.error === null ? 'synchronized' : object === null ? 'new' : 'modified',
    error: row.error,
    cells: row.cells,
  });
}

function stored(db: Database.Database): Map<string, Replica> {
  const rows = db.prepare('SELECT record, object_id, owned, status, error, cells FROM _sluice_replica WHERE source_ref = ? ORDER BY record').all(REF) as (Replica & { record: string })[];
  return new Map(rows.map(({ record, ...r }) => [record, r]));
}

/** A small deterministic generator, so a failure names its seed. */
function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

function run(seed: number, firstLoad: boolean): void {
  const next = random(seed);
  const db = new Database(':memory:');
  try {
    ensureSourceTables(db);
    const expected = new Map<string, Replica>();
    if (!firstLoad) {
      // Replicas of an earlier run, some without an object.
      const seedRow = db.prepare(`INSERT INTO _sluice_replica (source_ref, record, object_id, owned, status, error, cells) VALUES (?, ?, ?, ?, ?, ?, ?)`);
      for (let k = 0; k < 6; k++) {
        const r: Replica = k % 3 === 0 ? { object_id: null, owned: 0, status: 'new', error: 'earlier', cells: 'e' } : { object_id: 100 + k, owned: k % 2, status: 'synchronized', error: null, cells: 'c' };
        seedRow.run(REF, `r${k}`, r.object_id, r.owned, r.status, r.error, r.cells);
        expected.set(`r${k}`, r);
      }
    }
    db.exec('BEGIN');
    const w = new SyncWriter(db, model, 'Person', config);
    for (let flush = 0; flush < 4; flush++) {
      // Some flushes stage more records than one statement takes.
      const n = Math.floor(next() * (flush === 2 ? 200 : 25));
      for (let k = 0; k < n; k++) {
        const failed = next() < 0.3;
        const row: Row = {
          record: `r${Math.floor(next() * 8)}`,
          object: failed ? null : 100 + Math.floor(next() * 5),
          owned: next() < 0.5,
          error: failed ? `e${k}` : null,
          cells: `f${flush}k${k}`,
        };
        w.replica(7, row.record, row.object, row.owned, row.error, row.cells);
        applyOne(expected, row);
      }
      w.flush(7);
      assert.deepEqual(stored(db), expected, `seed ${seed}, ${firstLoad ? 'first load' : 'later load'}, after flush ${flush}`);
    }
    db.exec('COMMIT');
  } finally {
    db.close();
  }
}

describe('SyncWriter: replicas as the feed order has them', () => {
  it("a source's first load and its later loads, with records repeated within and across flushes", () => {
    for (let seed = 1; seed <= 300; seed++) {
      run(seed, true);
      run(seed, false);
    }
  });

  it('reads a list of ids as SQL joins them', () => {
    const s = new IdSet();
    addIdList(s, '3,17,4294967296,5');
    addIdList(s, null);
    assert.deepEqual([3, 5, 17, 4294967296].map((id) => s.has(id)), [true, true, true, true]);
    assert.equal(s.size, 4);
  });
});
