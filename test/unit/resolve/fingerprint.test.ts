import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { buildModel } from '../../../src/model/load.js';
import { CMDB_MODEL } from '../../../src/model/cmdb.js';
import type { ClassDef } from '../../../src/model/types.js';
import {
  FingerprintQueries,
  FingerprintTable,
  SharedFingerprintTable,
  type SharedFingerprints,
  helpFill,
  sharedFingerprints,
  type FingerprintSeed,
  ensureFingerprintIndex,
  fingerprintSeed,
  fingerprintsApply,
  hashBytes,
  readFingerprintPage,
} from '../../../src/resolve/fingerprint.js';
import { Lookup } from '../../../src/resolve/lookup.js';
import { buildPlan } from '../../../src/rows/header.js';
import type { Action } from '../../../src/rows/plan.js';
import { prngInt } from '../../helpers/random.js';

const SEED: FingerprintSeed = { a: 0x1234567, b: -0x7654321 };

function fp(text: string, seed = SEED, start = 0, end?: number): bigint {
  const bytes = Buffer.from(text);
  const out = new BigInt64Array(1);
  hashBytes(bytes, start, end ?? bytes.length, seed, new Int32Array(out.buffer), 0);
  return out[0] as bigint;
}

describe('hashBytes', () => {
  it('is a function of the bytes of the span and the seed', () => {
    assert.equal(fp('a,"b,c",é'), fp('a,"b,c",é'));
    assert.equal(fp('xx,a,b\n', SEED, 3, 6), fp('a,b'));
    assert.notEqual(fp('a,b'), fp('a,b', { a: SEED.a, b: SEED.b + 1 }));
    assert.notEqual(fp('a,b'), fp('a,b', { a: SEED.a + 1, b: SEED.b }));
  });

  it('stays the function it was: fingerprints stored by earlier runs still match', () => {
    assert.equal(fp('a,b'), -4969468395996073977n);
    assert.equal(fp('Omar,Ricci,omar.ricci0@tyrell.co.uk,+46 923 264 846'), -2205294870547028347n);
    assert.equal(fp('é'), -8934825283332897667n);
    // The same span inside a larger buffer, at an odd offset.
    assert.equal(fp('xOmar,Ricci,omar.ricci0@tyrell.co.uk,+46 923 264 846\n', SEED, 1, 52), -2205294870547028347n);
  });

  it('tells apart records that differ in one byte, in order or in length', () => {
    const variants = ['ab,c', 'a,bc', 'abc', 'abc,', ',abc', 'a,b,c', 'a,,bc', '', ',', ',,', 'abd,c', 'ba,c', 'ab,c '];
    assert.equal(new Set(variants.map((v) => fp(v))).size, variants.length);
  });

  it('gives distinct fingerprints to many similar records (no collision in 200,000)', () => {
    const seen = new Set<bigint>();
    for (let k = 0; k < 200_000; k++) seen.add(fp(`p${k}@x.org,Name,${k % 97},+1 555`));
    assert.equal(seen.size, 200_000);
  });
});

function store(t: TestContext, fps: (bigint | null)[]): Database.Database {
  const db = new Database(':memory:');
  t.after(() => db.close());
  db.exec('CREATE TABLE Thing (id INTEGER PRIMARY KEY, _fp INTEGER); CREATE INDEX Thing__fp ON Thing(_fp) WHERE _fp IS NOT NULL');
  const ins = db.prepare('INSERT INTO Thing (_fp) VALUES (?)');
  for (const f of fps) ins.run(f);
  return db;
}

describe('readFingerprintPage', () => {
  it('rebuilds every 64-bit fingerprint exactly from its decimal digits, with its id', () => {
    const next = prngInt(7);
    const fps: bigint[] = [0n, 1n, -1n, 2n ** 32n, 2n ** 32n - 1n, -(2n ** 32n), 2n ** 63n - 1n, -(2n ** 63n), -(2n ** 63n) + 1n, 4294967296n * 12345n];
    for (let i = 0; i < 2000; i++) fps.push(BigInt.asIntN(64, (BigInt(next(2 ** 30)) << 34n) ^ (BigInt(next(2 ** 30)) << 4n) ^ BigInt(next(16))));
    const ids = fps.map((_, i) => (i * 7919) % 2 ** 31);
    const text = fps.map((f, i) => `${f},${ids[i]}`).join(',');
    const out = new Int32Array(fps.length * 3);
    assert.equal(readFingerprintPage(text, out), fps.length);
    const halves = new Int32Array(BigInt64Array.from(fps).buffer);
    for (let i = 0; i < fps.length; i++) {
      assert.deepEqual([out[i * 3], out[i * 3 + 1], out[i * 3 + 2]], [halves[i * 2], halves[i * 2 + 1], ids[i]], `fingerprint ${fps[i]}`);
    }
  });
});

describe('FingerprintTable and FingerprintQueries', () => {
  it('find the one object holding a fingerprint, and none when several share it', (t) => {
    const db = store(t, [5n, -(2n ** 63n), null, 2n ** 63n - 1n, 5n, 42n]);
    const probe = BigInt64Array.of(5n, -(2n ** 63n), 2n ** 63n - 1n, 42n, 43n, 0n);
    const expected = [0, 2, 4, 6, 0, 0];
    assert.deepEqual([...(FingerprintTable.load(db, 'Thing') as FingerprintTable).find(probe)], expected);
    assert.deepEqual([...new FingerprintQueries(new Lookup(db), 'Thing').find(probe)], expected);
  });

  it('agree on random fingerprints, including ones that differ only below a double\'s precision', (t) => {
    const next = prngInt(11);
    const rand64 = (): bigint => BigInt.asIntN(64, (BigInt(next(2 ** 30)) << 34n) ^ (BigInt(next(2 ** 30)) << 4n) ^ BigInt(next(16)));
    const stored: bigint[] = [];
    for (let k = 0; k < 3000; k++) {
      const v = rand64();
      stored.push(v);
      // a neighbour one apart: the same double, another fingerprint
      if (k % 10 === 0) stored.push(v + 1n);
    }
    const db = store(t, stored);
    const probes = BigInt64Array.from([...stored.slice(0, 1500), ...Array.from({ length: 500 }, rand64), ...stored.slice(0, 50).map((v) => v - 1n)]);
    const table = (FingerprintTable.load(db, 'Thing') as FingerprintTable).find(probes);
    const queries = new FingerprintQueries(new Lookup(db), 'Thing').find(probes);
    const ids = new Map(stored.map((v, i) => [v, i + 1]));
    // Queries tell the results apart by their double: a probe sharing it with another one is skipped, never misnamed.
    const byDouble = new Map<number, Set<bigint>>();
    for (const v of probes) byDouble.set(Number(v), (byDouble.get(Number(v)) ?? new Set()).add(v));
    let sharp = 0;
    for (let i = 0; i < probes.length; i++) {
      const id = ids.get(probes[i] as bigint) ?? 0;
      assert.equal(table[i], id, `table, probe ${i}`);
      const alone = (byDouble.get(Number(probes[i])) as Set<bigint>).size === 1;
      if (alone) sharp++;
      assert.equal(queries[i], alone ? id : 0, `queries, probe ${i}`);
    }
    assert.ok(sharp > 1000 && sharp < probes.length, `both kinds of probe are there (${sharp} of ${probes.length} alone)`);
  });

  it('loads page by page without losing objects that share a fingerprint across a page boundary', (t) => {
    const db = store(t, [9n, 9n, 9n, 1n, -(2n ** 63n), 4n, 4n, 7n]);
    const probe = BigInt64Array.of(9n, 1n, -(2n ** 63n), 4n, 7n);
    for (const pageRows of [1, 2, 3, 100]) {
      assert.deepEqual([...(FingerprintTable.load(db, 'Thing', 100, pageRows) as FingerprintTable).find(probe)], [0, 4, 5, 0, 8], `pages of ${pageRows}`);
    }
  });

  it('reads the table itself, skipping objects without a fingerprint, with or without the index', (t) => {
    const db = store(t, [null, 5n, null, null, 6n, 5n, null, 8n]);
    const probe = BigInt64Array.of(5n, 6n, 8n, 3n);
    for (const pageRows of [1, 2, 100]) assert.deepEqual([...(FingerprintTable.load(db, 'Thing', 100, pageRows) as FingerprintTable).find(probe)], [0, 5, 8, 0], `pages of ${pageRows}`);
    db.exec('DROP INDEX Thing__fp');
    assert.deepEqual([...(FingerprintTable.load(db, 'Thing', 4, 2) as FingerprintTable).find(probe)], [0, 5, 8, 0], 'four fingerprints within a cap of four, eight ids');
  });

  it('keeps the index only for a class larger than the in-memory table', (t) => {
    const db = store(t, [1n, 2n, 3n]);
    const cls = { name: 'Thing' } as ClassDef;
    const hasIndex = (): boolean => db.prepare(`SELECT count(*) FROM sqlite_master WHERE name = 'Thing__fp'`).pluck().get() === 1;
    ensureFingerprintIndex(db, cls, 3);
    assert.equal(hasIndex(), false);
    ensureFingerprintIndex(db, cls, 2);
    assert.equal(hasIndex(), true);
  });

  it('is not loaded beyond its cap', (t) => {
    const db = store(t, [1n, 2n, 3n]);
    assert.equal(FingerprintTable.load(db, 'Thing', 2), null);
    assert.notEqual(FingerprintTable.load(db, 'Thing', 3), null);
  });
});

/** Random fingerprints, one in ten with a neighbour one apart and one in fifty stored twice (several objects). */
function randomStored(count: number, seed: number): bigint[] {
  const next = prngInt(seed);
  const rand64 = (): bigint => BigInt.asIntN(64, (BigInt(next(2 ** 30)) << 34n) ^ (BigInt(next(2 ** 30)) << 4n) ^ BigInt(next(16)));
  const out: bigint[] = [];
  for (let k = 0; k < count; k++) {
    const v = rand64();
    out.push(v);
    if (k % 10 === 0) out.push(v + 1n);
  }
  for (let k = 0; k < count / 50; k++) out.push(out[next(out.length)] as bigint);
  return out;
}

/** What a table answers for every stored fingerprint and a few others. */
function answers(index: { find(fp: BigInt64Array): Float64Array }, stored: bigint[]): number[] {
  return [...index.find(BigInt64Array.from([...stored, 3n, -3n, 0n]))];
}

describe('the fingerprint table the threads of a run share', () => {
  it('answers as the table a worker reads alone, whatever the ranges and pages it is read by', (t) => {
    const stored = randomStored(3000, 17);
    const db = store(t, stored);
    const alone = answers(FingerprintTable.load(db, 'Thing') as FingerprintTable, stored);
    assert.ok(alone.includes(0) && alone.some((id) => id > 0), 'both single and shared fingerprints');
    for (const [rangeIds, pageRows] of [[1, 1], [7, 2], [100, 3], [1000, 100], [131_072, 65_536]] as const) {
      const shared = sharedFingerprints(db, 'Thing', undefined, rangeIds) as SharedFingerprints;
      helpFill(db, 'Thing', shared, pageRows);
      assert.deepEqual(answers(new SharedFingerprintTable(shared, () => assert.fail('filled already')), stored), alone, `ranges of ${rangeIds} ids, pages of ${pageRows}`);
    }
  });

  it('is filled by several threads at once, each claiming ranges, to the same answers', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-fp-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'fp.db');
    const stored = randomStored(20_000, 23);
    const db = new Database(path);
    t.after(() => db.close());
    db.exec('CREATE TABLE Thing (id INTEGER PRIMARY KEY, _fp INTEGER)');
    const ins = db.prepare('INSERT INTO Thing (_fp) VALUES (?)');
    db.transaction(() => stored.forEach((f) => ins.run(f)))();
    const alone = answers(FingerprintTable.load(db, 'Thing') as FingerprintTable, stored);
    const shared = sharedFingerprints(db, 'Thing', undefined, 64) as SharedFingerprints;
    const module = new URL('../../../src/resolve/fingerprint.js', import.meta.url).href;
    const code = `const { workerData, parentPort } = require('node:worker_threads');
      const Database = require(${JSON.stringify(createRequire(import.meta.url).resolve('better-sqlite3'))});
      import(workerData.module).then((m) => { const db = new Database(workerData.path, { readonly: true }); m.helpFill(db, 'Thing', workerData.shared, 50); parentPort.postMessage('done'); });`;
    const helpers = [0, 1, 2].map(() => new Worker(code, { eval: true, workerData: { module, path, shared } }));
    helpFill(db, 'Thing', shared, 50);
    await Promise.all(helpers.map((w) => new Promise((resolve, reject) => w.once('message', resolve).once('error', reject))));
    await Promise.all(helpers.map((w) => w.terminate()));
    assert.deepEqual(answers(new SharedFingerprintTable(shared, () => assert.fail('filled already')), stored), alone);
  });

  it('is not shared beyond the cap: each worker reads its own or queries', (t) => {
    const db = store(t, [1n, 2n, 3n]);
    assert.equal(sharedFingerprints(db, 'Thing', 2), null);
    assert.notEqual(sharedFingerprints(db, 'Thing', 3), null);
  });

  it('makes a worker help fill it before its first lookup, and fails every thread when one cannot read', (t) => {
    const db = store(t, [5n, 6n]);
    const shared = sharedFingerprints(db, 'Thing') as SharedFingerprints;
    let helped = 0;
    const view = new SharedFingerprintTable(shared, () => {
      helped++;
      helpFill(db, 'Thing', shared);
    });
    assert.deepEqual([...view.find(BigInt64Array.of(5n, 6n, 7n))], [1, 2, 0]);
    assert.deepEqual([...view.find(BigInt64Array.of(6n))], [2]);
    assert.equal(helped, 1);
    const broken = sharedFingerprints(db, 'Thing') as SharedFingerprints;
    assert.throws(() => helpFill(db, 'Nowhere', broken), /no such table/);
    assert.throws(() => new SharedFingerprintTable(broken, () => undefined).find(BigInt64Array.of(5n)), /could not read the fingerprints/);
  });
});

describe('fingerprintsApply', () => {
  const model = buildModel(CMDB_MODEL, 'cmdb');
  const person = model.classes.get('Person') as ClassDef;
  const plan = (header: string[], keys: string[] | undefined, action: Action = 'upsert', cls = person) =>
    buildPlan(model, cls as never, header, { keys, action, ignoreEmpty: false });
  const applies = (p: ReturnType<typeof plan>, format: 'csv' | 'json' = 'csv') => fingerprintsApply(p, model.classes.get(p.className) as ClassDef, format);

  it('applies to CSV upserts and updates reconciled by key', () => {
    assert.equal(applies(plan(['email', 'name'], ['email'])), true);
    assert.equal(applies(plan(['email', 'name'], ['email'], 'update')), true);
  });

  it('does not apply to JSON, other actions, or references into the class itself', () => {
    assert.equal(applies(plan(['email', 'name'], ['email']), 'json'), false);
    assert.equal(applies(plan(['email', 'name'], ['email'], 'insert')), false);
    assert.equal(applies(plan(['email'], ['email'], 'delete')), false);
    assert.equal(applies(plan(['email', 'name', 'manager_id->email'], ['email'])), false);
  });

  it('does not apply to records holding a password, whose fast hash would expose it', () => {
    const user = model.classes.get('UserLocal') as ClassDef;
    assert.equal(applies(plan(['login', 'language'], ['login'], 'upsert', user)), true);
    assert.equal(applies(plan(['login', 'password'], ['login'], 'upsert', user)), false);
    assert.equal(applies(plan(['login', 'password'], ['login'], 'update', user)), false);
  });
});

describe('fingerprintSeed', () => {
  it('depends on --relax-quotes, which gives some records a meaning they have not without it', (t) => {
    const db = new Database(':memory:');
    t.after(() => db.close());
    db.exec('CREATE TABLE _sluice_meta (key TEXT PRIMARY KEY, value TEXT)');
    const model = buildModel(CMDB_MODEL, 'cmdb');
    const plan = buildPlan(model, model.classes.get('Organization') as ClassDef, ['name', 'code'], { keys: undefined, action: 'upsert', ignoreEmpty: false });
    const seed = (relaxQuotes: boolean): FingerprintSeed => fingerprintSeed(db, model, plan, { delimiter: ',', quote: '"', relaxQuotes, dateFormat: undefined });
    assert.deepEqual(seed(false), seed(false));
    assert.deepEqual(seed(true), seed(true));
    assert.notDeepEqual(seed(true), seed(false));
  });
});
