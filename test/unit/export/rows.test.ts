import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import { type ExportColumn, defaultColumns, requestedColumns } from '../../../src/export/columns.js';
import { exportQuery, sharedItemsQuery, sharedRefsQuery } from '../../../src/export/query.js';
import { type ExportFormat, RowFormatter } from '../../../src/export/rows.js';
import { CMDB_MODEL } from '../../../src/model/cmdb.js';
import { buildModel } from '../../../src/model/load.js';
import { modelDDL } from '../../../src/model/schema.js';
import type { ClassDef, Scalar } from '../../../src/model/types.js';

const model = buildModel(CMDB_MODEL, 'cmdb');
const cls = (name: string): ClassDef => model.classes.get(name) as ClassDef;

let db: Database.Database;

before(() => {
  db = new Database(':memory:');
  for (const sql of modelDDL(model)) db.exec(sql);
  db.exec(`
    INSERT INTO Organization (id, name, code, status, parent_id) VALUES (1, 'Acme', 'AC', 'active', NULL), (2, '=Evil, Corp', NULL, 'inactive', 1), (3, 'Twin', 'T1', 'active', NULL), (4, 'Twin', 'T2', 'active', NULL);
    INSERT INTO Person (id, name, first_name, status, org_id, email, phone, notify, manager_id) VALUES
      (1, 'Doe', 'Jane', 'active', 1, 'jane@x.org', NULL, 'yes', NULL),
      (2, 'Roe', '', 'active', 2, '-', '', 'no', 1),
      (3, 'Poe', NULL, 'active', 3, NULL, NULL, 'yes', 99),
      (4, 'Doe', 'John', 'active', 1, 'john@x.org', '', 'yes', NULL);
    INSERT INTO Team (id, name, org_id) VALUES (1, 'Ops', 1);
    INSERT INTO Team_persons_list (from_id, to_id) VALUES (1, 4), (1, 2), (1, 1);
    INSERT INTO Profile (id, name) VALUES (1, 'Portal user'), (2, 'Ops|Night'), (3, ''), (5, 'a->b:c');
    INSERT INTO UserLocal (id, login, contactid, language, status, password) VALUES (1, 'jd', 1, 'EN US', 'enabled', 'scrypt$secret'), (2, 'nobody', NULL, 'FR FR', 'disabled', NULL);
    INSERT INTO UserLocal_profile_list (from_id, to_id) VALUES (1, 5), (1, 1), (1, 2), (1, 3);
  `);
});

after(() => db.close());

function run(className: string, columns: ExportColumn[], format: ExportFormat = 'csv', guard = false): { text: string; f: RowFormatter } {
  const c = cls(className);
  const { sql, layout } = exportQuery(c, columns);
  const shared = columns.map((col) => (col.kind === 'links' ? new Set(db.prepare(sharedItemsQuery(col.target, col.itemAttr)).pluck().all() as Scalar[]) : null));
  const f = new RowFormatter(columns, layout, { format, separator: format === 'tsv' ? '\t' : ',', guard, shared });
  let text = f.header();
  for (const row of db.prepare(sql).raw(true).iterate() as IterableIterator<Scalar[]>) text += f.record(row);
  return { text: text + f.footer(), f };
}

describe('export rows (query + formatter)', () => {
  it('writes Persons with references by value, <NULL> for null strings and empty for null references', () => {
    const { text, f } = run('Person', requestedColumns(model, cls('Person'), ['name', 'first_name', 'org_id->name', 'email', 'phone', 'manager_id->name', 'manager_id->first_name']));
    assert.equal(
      text,
      [
        'name,first_name,org_id->name,email,phone,manager_id->name,manager_id->first_name',
        'Doe,Jane,Acme,jane@x.org,<NULL>,,',
        'Roe,,"=Evil, Corp",-,,Doe,Jane',
        // manager 99 does not exist: written empty and counted
        'Poe,<NULL>,Twin,<NULL>,<NULL>,,',
        'Doe,John,Acme,john@x.org,,,',
        '',
      ].join('\n'),
    );
    assert.equal(f.stats.rows, 4);
    assert.equal(f.stats.lostRefs, 1);
    // A reference to a missing object is not one to a later object: the row is written once.
    assert.equal(f.stats.twice, 0);
  });

  it('guards formula-looking cells, counts them, and leaves numbers alone', () => {
    const { text, f } = run('Person', requestedColumns(model, cls('Person'), ['name', 'org_id->name', 'email']), 'csv', true);
    const rows = parse(text) as string[][];
    assert.deepEqual(rows[2], ['Roe', "'=Evil, Corp", "'-"]);
    assert.equal(f.stats.guarded, 2);
    const ids = run('Person', requestedColumns(model, cls('Person'), ['id', 'org_id']), 'csv', true);
    assert.equal(ids.f.stats.guarded, 0);
  });

  it('writes link sets in the import syntax: bare, key->attr:value, or by id when shared or unwritable', () => {
    const { text, f } = run('UserLocal', defaultColumns(model, cls('UserLocal'), false));
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    assert.equal(rows[0]?.profile_list, 'Portal user|profileid->id:2|profileid->name:|profileid->name:a->b:c');
    assert.equal(rows[1]?.profile_list, '');
    assert.equal(f.stats.itemsById, 1);
    assert.ok(!text.includes('scrypt'), 'no password hash in the export');
    assert.equal(rows[1]?.['contactid->name'], '');
  });

  it('writes a member whose name another object shares by id', () => {
    const { text, f } = run('Team', requestedColumns(model, cls('Team'), ['name', 'persons_list']));
    assert.equal(text, 'name,persons_list\nOps,person_id->id:1|Roe|person_id->id:4\n');
    assert.equal(f.stats.itemsById, 2);
  });

  it('writes TSV with the same quoting rules', () => {
    const { text } = run('Organization', requestedColumns(model, cls('Organization'), ['name', 'code']), 'tsv');
    assert.equal(text, 'name\tcode\nAcme\tAC\n=Evil, Corp\t<NULL>\nTwin\tT1\nTwin\tT2\n');
  });

  it('writes one JSON array of objects keyed by the headers, with typed values and no guard', () => {
    const { text } = run('Person', requestedColumns(model, cls('Person'), ['name', 'first_name', 'org_id->name', 'phone']), 'json', true);
    const rows = JSON.parse(text) as Record<string, unknown>[];
    assert.deepEqual(rows[1], { name: 'Roe', first_name: '', 'org_id->name': '=Evil, Corp', phone: '' });
    assert.deepEqual(rows[2], { name: 'Poe', first_name: null, 'org_id->name': 'Twin', phone: null });
    const ids = JSON.parse(run('Person', requestedColumns(model, cls('Person'), ['id', 'org_id', 'manager_id->id']), 'json').text) as Record<string, unknown>[];
    assert.deepEqual(ids[1], { id: 2, org_id: 2, 'manager_id->id': 1 });
  });

  it('writes an empty class as a header only, or as []', () => {
    assert.equal(run('Server', requestedColumns(model, cls('Server'), ['name'])).text, 'name\n');
    assert.deepEqual(JSON.parse(run('Server', requestedColumns(model, cls('Server'), ['name']), 'json').text), []);
  });

  it('keeps a lone empty cell from becoming a blank line', () => {
    const { text } = run('Person', requestedColumns(model, cls('Person'), ['first_name']));
    assert.equal(text, 'first_name\nJane\n""\n<NULL>\nJohn\n');
  });

  it('counts exported objects whose reference value another object shares', () => {
    const n = db.prepare(sharedRefsQuery(cls('Person'), 'org_id', cls('Organization'), ['name'])).pluck().get();
    assert.equal(n, 1);
  });
});
