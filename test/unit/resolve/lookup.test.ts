import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { buildModel } from '../../../src/model/load.js';
import { initStore } from '../../../src/model/store.js';
import type { Scalar } from '../../../src/model/types.js';
import { Lookup, type Match } from '../../../src/resolve/lookup.js';
import { type TupleKey, hasEmpty, tupleKey } from '../../../src/resolve/tuple.js';

const MODEL = buildModel({
  classes: {
    Item: {
      attributes: {
        code: { type: 'string' },
        n: { type: 'integer' },
        tag: { type: 'string' },
        price: { type: 'decimal' },
        parts: { type: 'links', class: 'Item' },
      },
      reconciliation: ['code'],
    },
  },
});

/** A fresh database with the Item model, opened for writing; rows are inserted as given. */
function fresh(t: TestContext, rows: Array<{ code?: Scalar; n?: Scalar; tag?: Scalar; price?: Scalar }> = []): { db: Database.Database; lookup: Lookup; ids: number[] } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-lookup-'));
  const path = join(dir, 'items.db');
  initStore(path, MODEL);
  const db = new Database(path);
  t.after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const ins = db.prepare(`INSERT INTO Item (code, n, tag, price) VALUES (?, ?, ?, ?)`);
  const ids: number[] = [];
  db.transaction(() => {
    for (const r of rows) ids.push(Number(ins.run(r.code ?? null, r.n ?? null, r.tag ?? null, r.price ?? null).lastInsertRowid));
  })();
  return { db, lookup: new Lookup(db), ids };
}

function get(m: Map<TupleKey, Match>, tuple: Scalar[]): Match {
  const r = m.get(tupleKey(tuple));
  assert.ok(r, `an answer for ${JSON.stringify(tuple)}`);
  return r;
}

describe('tupleKey and hasEmpty', () => {
  it('distinguishes 5, "5", null and ""', () => {
    const keys = [[5], ['5'], [null], [''], [0], ['0'], ['null'], [' ']].map((t) => tupleKey(t as Scalar[]));
    assert.equal(new Set(keys).size, keys.length);
  });

  it('distinguishes the same values in multi-column tuples', () => {
    const keys = [
      [5, 'a'],
      ['5', 'a'],
      [null, 'a'],
      ['', 'a'],
      ['a', null],
      ['a', ''],
      ['a', 5],
      ['a', '5'],
    ].map((t) => tupleKey(t as Scalar[]));
    assert.equal(new Set(keys).size, keys.length);
  });

  it('does not confuse a one-value tuple with a two-value one, or the split point', () => {
    assert.notEqual(tupleKey(['ab']), tupleKey(['a', 'b']));
    assert.notEqual(tupleKey(['a', 'bc']), tupleKey(['ab', 'c']));
    assert.notEqual(tupleKey(['', '']), tupleKey(['']));
  });

  it('is stable and treats booleans as the integers they are stored as', () => {
    assert.equal(tupleKey(['x', 1.5]), tupleKey(['x', 1.5]));
    assert.equal(tupleKey([true]), tupleKey([1]));
    assert.equal(tupleKey([false]), tupleKey([0]));
    assert.notEqual(tupleKey([true]), tupleKey(['1']));
  });

  it('calls a tuple empty when any value is null or ""', () => {
    assert.equal(hasEmpty(['a', 1]), false);
    assert.equal(hasEmpty([0]), false);
    assert.equal(hasEmpty([' ']), false);
    assert.equal(hasEmpty(['a', null]), true);
    assert.equal(hasEmpty(['', 1]), true);
    assert.equal(hasEmpty([]), false);
  });
});

describe('Lookup.resolve', () => {
  it('resolves single-column tuples, with fetch columns for single matches', (t) => {
    const { lookup, ids } = fresh(t, [
      { code: 'a', n: 1, tag: 'x', price: 1.5 },
      { code: 'b', n: 2, tag: 'y' },
    ]);
    const m = lookup.resolve('Item', ['code'], [['a'], ['b'], ['c']], ['n', 'tag', 'price']);
    assert.equal(m.size, 3);
    assert.deepEqual(get(m, ['a']), { count: 1, id: ids[0], row: [1, 'x', 1.5] });
    assert.deepEqual(get(m, ['b']), { count: 1, id: ids[1], row: [2, 'y', null] });
    assert.deepEqual(get(m, ['c']), { count: 0, id: null, row: null });
  });

  it('answers "no match" without a query for a class it is told is empty, and calls beforeQuery for the others', (t) => {
    const { db } = fresh(t, [{ code: 'a' }, { code: '' }]);
    const queried: string[] = [];
    const lookup = new Lookup(db, { empty: ['Item'], beforeQuery: (table) => queried.push(table) });
    const m = lookup.resolve('Item', ['code'], [['a'], [''], ['b']], ['n']);
    for (const v of ['a', '', 'b']) assert.deepEqual(get(m, [v]), { count: 0, id: null, row: null });
    assert.equal(queried.length, 0);
    const plain = new Lookup(db, { beforeQuery: (table) => queried.push(table) });
    assert.equal(get(plain.resolve('Item', ['code'], [['a']]), ['a']).count, 1);
    assert.deepEqual(queried, ['Item']);
  });

  it('returns an empty row without fetch columns', (t) => {
    const { lookup, ids } = fresh(t, [{ code: 'a' }]);
    assert.deepEqual(get(lookup.resolve('Item', ['code'], [['a']]), ['a']), { count: 1, id: ids[0], row: [] });
  });

  it('matches values exactly: type and case matter', (t) => {
    const { lookup, ids } = fresh(t, [{ code: 'Abc', n: 5 }, { code: '5' }]);
    const m = lookup.resolve('Item', ['code'], [['abc'], ['Abc'], ['5']]);
    assert.equal(get(m, ['abc']).count, 0);
    assert.equal(get(m, ['Abc']).id, ids[0]);
    assert.equal(get(m, ['5']).id, ids[1]);
    assert.equal(get(lookup.resolve('Item', ['n'], [[5], [6]]), [5]).id, ids[0]);
  });

  it('resolves multi-column tuples', (t) => {
    const { lookup, ids } = fresh(t, [
      { code: 'a', n: 1, tag: 'one' },
      { code: 'a', n: 2, tag: 'two' },
      { code: 'b', n: 1, tag: 'three' },
    ]);
    const m = lookup.resolve('Item', ['code', 'n'], [['a', 1], ['a', 2], ['b', 1], ['b', 2], ['a', 3]], ['tag']);
    assert.deepEqual(get(m, ['a', 1]), { count: 1, id: ids[0], row: ['one'] });
    assert.deepEqual(get(m, ['a', 2]), { count: 1, id: ids[1], row: ['two'] });
    assert.deepEqual(get(m, ['b', 1]), { count: 1, id: ids[2], row: ['three'] });
    assert.equal(get(m, ['b', 2]).count, 0);
    assert.equal(get(m, ['a', 3]).count, 0);
  });

  it('collapses duplicate tuples in the input', (t) => {
    const { lookup, ids } = fresh(t, [{ code: 'a' }, { code: 'b' }]);
    const m = lookup.resolve('Item', ['code'], [['a'], ['b'], ['a'], ['a'], ['x'], ['x']], ['code']);
    assert.equal(m.size, 3);
    assert.deepEqual(get(m, ['a']), { count: 1, id: ids[0], row: ['a'] });
    assert.deepEqual(get(m, ['b']), { count: 1, id: ids[1], row: ['b'] });
    assert.equal(get(m, ['x']).count, 0);
  });

  it('counts ambiguous matches, gives the lowest id and no row', (t) => {
    const { lookup, ids } = fresh(t, [{ code: 'd', n: 1 }, { code: 'e' }, { code: 'd', n: 2 }, { code: 'd', n: 1 }]);
    const m = lookup.resolve('Item', ['code'], [['d'], ['e']], ['n']);
    assert.deepEqual(get(m, ['d']), { count: 3, id: ids[0], row: null });
    assert.deepEqual(get(m, ['e']), { count: 1, id: ids[1], row: [null] });
    const multi = lookup.resolve('Item', ['code', 'n'], [['d', 1], ['d', 2]], ['tag']);
    assert.deepEqual(get(multi, ['d', 1]), { count: 2, id: ids[0], row: null });
    assert.deepEqual(get(multi, ['d', 2]), { count: 1, id: ids[2], row: [null] });
  });

  it('resolves 1,000 distinct tuples (several batches) with the right match for each', (t) => {
    const rows: Array<{ code: string; n: number; tag: string }> = [];
    // codes c0..c1499, every tenth one twice
    for (let i = 0; i < 1500; i++) {
      rows.push({ code: `c${i}`, n: i, tag: `t${i}` });
      if (i % 10 === 0) rows.push({ code: `c${i}`, n: -i, tag: `dup${i}` });
    }
    const { lookup, db } = fresh(t, rows);
    const idOf = new Map<string, number[]>();
    for (const r of db.prepare(`SELECT id, code FROM Item ORDER BY id`).all() as { id: number; code: string }[]) {
      idOf.set(r.code, [...(idOf.get(r.code) ?? []), r.id]);
    }
    // 1,000 tuples: 700 present (c800..c1499), 300 absent, in a shuffled order
    const tuples: Scalar[][] = [];
    for (let i = 800; i < 1500; i++) tuples.push([`c${i}`]);
    for (let i = 0; i < 300; i++) tuples.push([`absent${i}`]);
    for (let i = tuples.length - 1; i > 0; i--) {
      const j = (i * 7919) % (i + 1);
      [tuples[i], tuples[j]] = [tuples[j] as Scalar[], tuples[i] as Scalar[]];
    }
    const m = lookup.resolve('Item', ['code'], tuples, ['n', 'tag']);
    assert.equal(m.size, 1000);
    for (const tuple of tuples) {
      const code = tuple[0] as string;
      const r = get(m, tuple);
      const ids = idOf.get(code);
      if (!ids) {
        assert.deepEqual(r, { count: 0, id: null, row: null }, code);
      } else if (ids.length === 2) {
        assert.deepEqual(r, { count: 2, id: ids[0], row: null }, code);
      } else {
        const i = Number(code.slice(1));
        assert.deepEqual(r, { count: 1, id: ids[0], row: [i, `t${i}`] }, code);
      }
    }
  });

  it('resolves batch sizes around the statement sizes (1, 4, 16, 64, 256)', (t) => {
    const rows = Array.from({ length: 600 }, (_, i) => ({ code: `k${i}`, n: i }));
    const { lookup, ids } = fresh(t, rows);
    for (const size of [1, 2, 4, 5, 16, 17, 63, 64, 65, 255, 256, 257, 511, 512, 513]) {
      // half of the tuples present, the other half absent, interleaved
      const tuples: Scalar[][] = Array.from({ length: size }, (_, i) => (i % 2 === 0 ? [`k${(i * 37) % 600}`, (i * 37) % 600] : [`k${i}`, -1]));
      const m = lookup.resolve('Item', ['code', 'n'], tuples, ['code']);
      for (const tuple of tuples) {
        const r = get(m, tuple);
        if (tuple[1] === -1) assert.equal(r.count, 0, `size ${size}: ${JSON.stringify(tuple)}`);
        else assert.deepEqual(r, { count: 1, id: ids[tuple[1] as number], row: [tuple[0]] }, `size ${size}: ${JSON.stringify(tuple)}`);
      }
      const single = lookup.resolve('Item', ['code'], tuples.map((x) => [x[0] as Scalar]));
      for (const tuple of tuples) {
        const i = Number((tuple[0] as string).slice(1));
        assert.equal(get(single, [tuple[0] as Scalar]).id, ids[i], `size ${size}: ${String(tuple[0])}`);
      }
    }
  });

  it('matches null and empty values with IS semantics and counts them', (t) => {
    const { lookup, ids } = fresh(t, [
      { code: 'a', tag: null },
      { code: 'b', tag: null },
      { code: 'c', tag: null },
      { code: 'd', tag: '' },
      { code: '', tag: 'x' },
      { code: '', tag: 'x' },
    ]);
    const m = lookup.resolve('Item', ['tag'], [[null], [''], ['x']], ['code']);
    assert.deepEqual(get(m, [null]), { count: 3, id: ids[0], row: null });
    assert.deepEqual(get(m, ['']), { count: 1, id: ids[3], row: ['d'] });
    assert.deepEqual(get(m, ['x']), { count: 2, id: ids[4], row: null });
    const multi = lookup.resolve('Item', ['code', 'tag'], [['a', null], ['', 'x'], ['d', ''], ['d', null], ['', null]], ['code']);
    assert.deepEqual(get(multi, ['a', null]), { count: 1, id: ids[0], row: ['a'] });
    assert.deepEqual(get(multi, ['', 'x']), { count: 2, id: ids[4], row: null });
    assert.deepEqual(get(multi, ['d', '']), { count: 1, id: ids[3], row: ['d'] });
    assert.deepEqual(get(multi, ['d', null]), { count: 0, id: null, row: null });
    assert.deepEqual(get(multi, ['', null]), { count: 0, id: null, row: null });
  });

  it('resolves empty-value tuples next to ordinary ones in one call', (t) => {
    const { lookup, ids } = fresh(t, [{ code: 'a', n: 1 }, { code: null, n: 2 }, { code: null, n: 3 }]);
    const m = lookup.resolve('Item', ['code'], [['a'], [null], ['zz'], [null]], ['n']);
    assert.equal(m.size, 3);
    assert.deepEqual(get(m, ['a']), { count: 1, id: ids[0], row: [1] });
    assert.deepEqual(get(m, [null]), { count: 2, id: ids[1], row: null });
    assert.equal(get(m, ['zz']).count, 0);
  });

  it('looks up by id', (t) => {
    const { lookup, ids } = fresh(t, [{ code: 'a' }, { code: 'b' }]);
    const m = lookup.resolve('Item', ['id'], [[ids[1] as number], [999]], ['code']);
    assert.deepEqual(get(m, [ids[1] as number]), { count: 1, id: ids[1], row: ['b'] });
    assert.equal(get(m, [999]).count, 0);
  });

  it('returns an empty map for no tuples', (t) => {
    const { lookup } = fresh(t, [{ code: 'a' }]);
    assert.equal(lookup.resolve('Item', ['code'], []).size, 0);
  });

  it('sees writes made on its own connection inside an open transaction', (t) => {
    const { db, lookup } = fresh(t, []);
    db.exec('BEGIN');
    const id = Number(db.prepare(`INSERT INTO Item (code) VALUES ('new')`).run().lastInsertRowid);
    assert.equal(get(lookup.resolve('Item', ['code'], [['new']]), ['new']).id, id);
    db.exec('ROLLBACK');
    assert.equal(get(lookup.resolve('Item', ['code'], [['new']]), ['new']).count, 0);
  });
});

describe('Lookup.linkMembers', () => {
  it('gives the sorted members of each owner, and [] for owners without any', (t) => {
    const { db, lookup, ids } = fresh(t, [{ code: 'a' }, { code: 'b' }, { code: 'c' }, { code: 'd' }]);
    const [a, b, c, d] = ids as [number, number, number, number];
    const link = db.prepare(`INSERT INTO Item_parts (from_id, to_id) VALUES (?, ?)`);
    link.run(a, d);
    link.run(a, b);
    link.run(a, c);
    link.run(c, a);
    const m = lookup.linkMembers('Item_parts', [a, b, c, a, 999]);
    assert.deepEqual([...m.keys()], [a, b, c, 999]);
    assert.deepEqual(m.get(a), [b, c, d]);
    assert.deepEqual(m.get(b), []);
    assert.deepEqual(m.get(c), [a]);
    assert.deepEqual(m.get(999), []);
  });
});

describe('Lookup.sample', () => {
  it('returns at most three sorted distinct non-empty values', (t) => {
    const { lookup } = fresh(t, [{ tag: 'pear' }, { tag: '' }, { tag: null }, { tag: 'apple' }, { tag: 'pear' }, { tag: 'fig' }, { tag: 'banana' }]);
    assert.deepEqual(lookup.sample('Item', 'tag'), ['apple', 'banana', 'fig']);
  });

  it('returns fewer when there are fewer, and [] when every value is empty', (t) => {
    const { lookup } = fresh(t, [{ tag: 'b' }, { tag: 'b' }, { tag: 'a' }, { tag: '' }]);
    assert.deepEqual(lookup.sample('Item', 'tag'), ['a', 'b']);
    assert.deepEqual(lookup.sample('Item', 'code'), []);
  });

  it('returns numbers as text, in numeric order', (t) => {
    const { lookup } = fresh(t, [{ n: 10 }, { n: 9 }, { n: 100 }, { n: 9 }, { n: 1000 }]);
    assert.deepEqual(lookup.sample('Item', 'n'), ['9', '10', '100']);
  });
});
