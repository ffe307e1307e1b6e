import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SluiceError } from '../../../src/base/errors.js';
import { CMDB_MODEL } from '../../../src/model/cmdb.js';
import { buildModel } from '../../../src/model/load.js';
import { ensureLookupIndex, lookupIndexName } from '../../../src/model/schema.js';
import { PAGE_SIZE, initStore, openStore, readModel, resolveModel } from '../../../src/model/store.js';

/** A fresh directory per test, removed afterwards. */
function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function freshCmdb(t: TestContext): { path: string; db: Database.Database } {
  const path = join(tempDir(t), 'cmdb.db');
  initStore(path, resolveModel('cmdb'));
  const db = new Database(path, { readonly: true });
  t.after(() => db.close());
  return { path, db };
}

function objects(db: Database.Database, type: 'table' | 'index'): Set<string> {
  return new Set((db.prepare(`SELECT name FROM sqlite_master WHERE type = ?`).pluck().all(type) as string[]).filter((n) => !n.startsWith('sqlite_')));
}

function columns(db: Database.Database, table: string): string[] {
  return (db.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[]);
}

function errorOf(fn: () => unknown): SluiceError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SluiceError, `expected a SluiceError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected an error');
}

const PROFILES = [
  'Administrator',
  'Portal user',
  'Configuration Manager',
  'Service Desk Agent',
  'Support Agent',
  'Problem Manager',
  'Change Implementor',
  'Change Supervisor',
  'Change Approver',
  'Service Manager',
  'Document author',
  'Portal power user',
  'REST Services User',
];

describe('initStore with the cmdb model', () => {
  it('creates the database in WAL mode with its page size', (t) => {
    const { db } = freshCmdb(t);
    assert.equal(db.pragma('page_size', { simple: true }), PAGE_SIZE);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  });

  it('creates a table for every class and the meta tables', (t) => {
    const { db } = freshCmdb(t);
    const tables = objects(db, 'table');
    for (const c of ['Organization', 'Location', 'Person', 'Team', 'Profile', 'UserLocal', 'Software', 'Server']) assert.ok(tables.has(c), `table ${c}`);
    for (const m of ['_sluice_meta', '_sluice_change', '_sluice_history']) assert.ok(tables.has(m), `table ${m}`);
  });

  it('creates one link table per links attribute, keyed both ways', (t) => {
    const { db } = freshCmdb(t);
    const tables = objects(db, 'table');
    const indexes = objects(db, 'index');
    for (const lt of ['Team_persons_list', 'UserLocal_profile_list', 'Server_software_list']) {
      assert.ok(tables.has(lt), `link table ${lt}`);
      assert.deepEqual(columns(db, lt), ['from_id', 'to_id']);
      assert.ok(indexes.has(`${lt}__to`), `index ${lt}__to`);
    }
    // exactly the class tables, the link tables and the meta tables
    assert.equal(tables.size, 8 + 3 + 3);
  });

  it('stores every non-links attribute as a column after id, source, source_id, then the record fingerprint', (t) => {
    const { db } = freshCmdb(t);
    const model = buildModel(CMDB_MODEL, 'cmdb');
    for (const cls of model.classes.values()) {
      const expected = ['id', 'source', 'source_id', ...cls.attributes.filter((a) => a.type !== 'links').map((a) => a.code), '_fp'];
      assert.deepEqual(columns(db, cls.name), expected, cls.name);
    }
    assert.ok(!columns(db, 'Team').includes('persons_list'));
  });

  it('creates the source and unique indexes of every class', (t) => {
    const { db } = freshCmdb(t);
    const indexes = objects(db, 'index');
    const model = buildModel(CMDB_MODEL, 'cmdb');
    for (const cls of model.classes.values()) {
      assert.ok(indexes.has(`${cls.name}__source`), `${cls.name}__source`);
      // the fingerprint index is for classes larger than the workers' in-memory table (resolve/fingerprint.ts)
      assert.ok(!indexes.has(`${cls.name}__fp`), `no ${cls.name}__fp`);
      for (const a of cls.attributes) if (a.unique) assert.ok(indexes.has(`${cls.name}__u_${a.code}`), `unique index ${cls.name}.${a.code}`);
    }
    assert.ok(indexes.has('Profile__u_name'));
    assert.ok(indexes.has('UserLocal__u_login'));
    assert.ok(indexes.has('_sluice_history__change'));
    // A bulk create's range is read back through the later entries of its objects (export/history-read.ts).
    assert.ok(indexes.has('_sluice_history__object'));
  });

  it('adds a lookup index on demand, once, and lookups use it', (t) => {
    const { path } = freshCmdb(t);
    const db = new Database(path);
    t.after(() => db.close());
    const person = buildModel(CMDB_MODEL, 'cmdb').classes.get('Person');
    assert.ok(person);
    const name = lookupIndexName('Person', ['email', 'org_id']);
    assert.ok(!objects(db, 'index').has(name));
    db.exec(ensureLookupIndex(person, ['email', 'org_id']));
    db.exec(ensureLookupIndex(person, ['email', 'org_id']));
    assert.ok(objects(db, 'index').has(name));
    const plan = (db.prepare(`EXPLAIN QUERY PLAN SELECT id FROM Person WHERE email = ? AND org_id = ?`).all('a', 1) as { detail: string }[]).map((r) => r.detail).join('\n');
    assert.ok(plan.includes(name), plan);
  });

  it('enforces the unique indexes, except on empty values', (t) => {
    const { path } = freshCmdb(t);
    const db = new Database(path);
    t.after(() => db.close());
    db.prepare(`INSERT INTO UserLocal(login) VALUES ('a')`).run();
    assert.throws(() => db.prepare(`INSERT INTO UserLocal(login) VALUES ('a')`).run(), /UNIQUE/);
    db.prepare(`INSERT INTO UserLocal(login) VALUES ('')`).run();
    db.prepare(`INSERT INTO UserLocal(login) VALUES ('')`).run();
    db.prepare(`INSERT INTO Person(name, source, source_id) VALUES ('x', 'ad', '1')`).run();
    assert.throws(() => db.prepare(`INSERT INTO Person(name, source, source_id) VALUES ('y', 'ad', '1')`).run(), /UNIQUE/);
    // a source pair with a missing half does not take part
    db.prepare(`INSERT INTO Person(name, source, source_id) VALUES ('z', 'ad', NULL)`).run();
    db.prepare(`INSERT INTO Person(name, source, source_id) VALUES ('z', 'ad', NULL)`).run();
  });

  it('stores the model, and readModel gives it back', (t) => {
    const { path, db } = freshCmdb(t);
    assert.equal(db.prepare(`SELECT value FROM _sluice_meta WHERE key = 'schema_version'`).pluck().get(), '1');
    const model = readModel(db, path);
    assert.deepEqual(model.file, JSON.parse(JSON.stringify(CMDB_MODEL)));
    assert.deepEqual([...model.classes.keys()], Object.keys(CMDB_MODEL.classes));
    assert.deepEqual(model.classes.get('Person')?.reconciliation, ['name', 'first_name', 'org_id']);
    assert.equal(model.classes.get('UserLocal')?.byCode.get('profile_list')?.itemKey, 'profileid');
  });

  it('seeds the 13 standard profiles under one change with a history row each', (t) => {
    const { db } = freshCmdb(t);
    const profiles = db.prepare(`SELECT id, name, description FROM Profile ORDER BY id`).all() as { id: number; name: string; description: string }[];
    assert.deepEqual(profiles.map((p) => p.name), PROFILES);
    assert.ok(profiles.every((p) => p.description.length > 0));

    const changes = db.prepare(`SELECT * FROM _sluice_change`).all() as Record<string, unknown>[];
    assert.equal(changes.length, 1);
    const change = changes[0]!;
    assert.equal(change.class, 'Profile');
    assert.equal(change.action, 'insert');
    assert.equal(change.outcome, 'committed');
    assert.equal(change.created, 13);
    assert.equal(change.lines, 13);
    assert.ok(change.finished_at);

    const history = db.prepare(`SELECT change_id, class, object_id, op, changes FROM _sluice_history ORDER BY id`).all() as Record<string, unknown>[];
    assert.equal(history.length, 13);
    history.forEach((h, i) => {
      assert.equal(h.change_id, change.id);
      assert.equal(h.class, 'Profile');
      assert.equal(h.op, 'create');
      assert.equal(h.object_id, profiles[i]!.id);
      assert.deepEqual(JSON.parse(h.changes as string), { name: [null, profiles[i]!.name], description: [null, profiles[i]!.description] });
    });
  });

  it('refuses an existing file with a usage error and leaves it alone', (t) => {
    const path = join(tempDir(t), 'exists.db');
    writeFileSync(path, 'not mine');
    const e = errorOf(() => initStore(path, resolveModel('cmdb')));
    assert.equal(e.code, 'E_USAGE');
    assert.equal(e.option, '--db');
    assert.ok(e.message.includes(path), e.message);
    assert.ok(e.message.includes('already exists'), e.message);
    assert.equal(readFileSync(path, 'utf8'), 'not mine');
  });

  it('refuses to initialize over an existing Sluice database', (t) => {
    const { path } = freshCmdb(t);
    assert.equal(errorOf(() => initStore(path, resolveModel('cmdb'))).code, 'E_USAGE');
  });
});

describe('initStore with a custom model', () => {
  it('creates exactly the declared tables, columns and seed', (t) => {
    const path = join(tempDir(t), 'custom.db');
    const model = buildModel({
      classes: {
        Tag: { attributes: { label: { type: 'string', unique: true }, weight: { type: 'decimal' } }, reconciliation: ['label'] },
        Box: { attributes: { code: { type: 'integer', unique: true }, tags: { type: 'links', class: 'Tag' }, tag_id: { type: 'ref', class: 'Tag' } } },
      },
      seed: { Tag: [{ label: 'red', weight: 1.5 }, { label: 'blue' }] },
    });
    initStore(path, model);
    const db = new Database(path, { readonly: true });
    t.after(() => db.close());
    assert.deepEqual([...objects(db, 'table')].sort(), ['Box', 'Box_tags', 'Tag', '_sluice_change', '_sluice_history', '_sluice_meta']);
    const types = Object.fromEntries((db.prepare(`SELECT name, type FROM pragma_table_info('Box')`).all() as { name: string; type: string }[]).map((r) => [r.name, r.type]));
    assert.deepEqual(types, { id: 'INTEGER', source: 'TEXT', source_id: 'TEXT', code: 'INTEGER', tag_id: 'INTEGER', _fp: 'INTEGER' });
    const indexes = objects(db, 'index');
    assert.ok(indexes.has('Box__u_code'));
    assert.ok(indexes.has('Tag__u_label'));
    assert.ok(indexes.has('Box_tags__to'));
    assert.deepEqual(db.prepare(`SELECT label, weight FROM Tag ORDER BY id`).all(), [
      { label: 'red', weight: 1.5 },
      { label: 'blue', weight: null },
    ]);
    assert.equal(db.prepare(`SELECT count(*) FROM _sluice_history`).pluck().get(), 2);
    assert.equal(readModel(db, path).classes.get('Box')?.byCode.get('tags')?.linkTable, 'Box_tags');
  });

  it('records no change when the model has no seed', (t) => {
    const path = join(tempDir(t), 'noseed.db');
    initStore(path, buildModel({ classes: { A: { attributes: { x: { type: 'string' } } } } }));
    const db = new Database(path, { readonly: true });
    t.after(() => db.close());
    assert.equal(db.prepare(`SELECT count(*) FROM _sluice_change`).pluck().get(), 0);
  });
});

describe('openStore', () => {
  it('opens an existing database and returns its stored model', (t) => {
    const { path } = freshCmdb(t);
    const { db, model } = openStore(path, { create: false });
    t.after(() => db.close());
    assert.ok(model.classes.has('Person'));
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  });

  it('fails with E_DB naming --db when the file is missing and create is off, creating nothing', (t) => {
    const path = join(tempDir(t), 'missing.db');
    const e = errorOf(() => openStore(path, { create: false }));
    assert.equal(e.code, 'E_DB');
    assert.equal(e.option, '--db');
    assert.equal(e.file, path);
    assert.ok(e.message.includes(path), e.message);
    assert.ok(e.message.includes(`--db ${path}`), e.message);
    assert.equal(existsSync(path), false);
  });

  it('creates a cmdb database on first use when create is on', (t) => {
    const path = join(tempDir(t), 'new.db');
    const { db, model } = openStore(path, { create: true });
    t.after(() => db.close());
    assert.ok(existsSync(path));
    assert.ok(model.classes.has('UserLocal'));
    assert.equal(db.prepare(`SELECT count(*) FROM Profile`).pluck().get(), 13);
  });

  it('fails with E_DB on a SQLite file that is not a Sluice database', (t) => {
    const path = join(tempDir(t), 'other.db');
    const other = new Database(path);
    other.exec(`CREATE TABLE things (x TEXT)`);
    other.close();
    const e = errorOf(() => openStore(path, { create: false }));
    assert.equal(e.code, 'E_DB');
    assert.equal(e.option, '--db');
    assert.match(e.message, /not a Sluice database/);
  });

  it('fails with E_DB on a SQLite file with an empty meta table', (t) => {
    const path = join(tempDir(t), 'empty-meta.db');
    const other = new Database(path);
    other.exec(`CREATE TABLE _sluice_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    other.close();
    const e = errorOf(() => openStore(path, { create: false }));
    assert.equal(e.code, 'E_DB');
    assert.match(e.message, /no model stored/);
  });

  it('fails with E_DB on a file that is not SQLite at all', (t) => {
    const path = join(tempDir(t), 'text.db');
    writeFileSync(path, 'name,email\n'.repeat(200));
    const e = errorOf(() => openStore(path, { create: false }));
    assert.equal(e.code, 'E_DB');
    assert.equal(e.option, '--db');
    assert.ok(e.message.includes(path), e.message);
  });

  it('fails with E_DB on a non-SQLite file opened read-only', (t) => {
    const path = join(tempDir(t), 'text-ro.db');
    writeFileSync(path, 'name,email\n'.repeat(200));
    const e = errorOf(() => openStore(path, { create: false, readonly: true }));
    assert.equal(e.code, 'E_DB');
  });
});
