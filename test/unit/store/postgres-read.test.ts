/** The PostgreSQL reader's pure parts: the size of its next page, and the export query's dialect. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestedColumns } from '../../../src/export/columns.js';
import { exportQuery } from '../../../src/export/query.js';
import { CMDB_MODEL } from '../../../src/model/cmdb.js';
import { buildModel } from '../../../src/model/load.js';
import type { ClassDef } from '../../../src/model/types.js';
import { FIRST_PAGE, MAX_PAGE, PAGE_BYTES, POSTGRES_DIALECT, nextPageRows } from '../../../src/store/postgres/read.js';

describe('nextPageRows', () => {
  it('asks for as many rows as fit in PAGE_BYTES, judging by the last page', () => {
    const rows = (n: number, text: number): string[][] => Array.from({ length: n }, () => ['x'.repeat(text)]);
    // 1 KiB of text (and 8 for the value) per row: 1016 rows per MiB.
    assert.equal(nextPageRows(rows(100, 1024 - 8)), PAGE_BYTES / 1024);
    assert.equal(nextPageRows(rows(3, 4 * PAGE_BYTES)), 1, 'one row at a time when a row is larger than a page');
    assert.equal(nextPageRows(rows(100, 0)), MAX_PAGE, 'small rows: at most MAX_PAGE');
    assert.equal(nextPageRows([]), FIRST_PAGE);
    assert.equal(nextPageRows([[1, 2, null]]), MAX_PAGE);
  });
});

describe('the export query on PostgreSQL', () => {
  const model = buildModel(CMDB_MODEL, 'cmdb');
  const cls = (name: string): ClassDef => model.classes.get(name) as ClassDef;

  it('differs from SQLite only in the link set aggregate and the later flag', () => {
    const columns = requestedColumns(model, cls('Organization'), ['name', 'parent_id->name']);
    const lite = exportQuery(cls('Organization'), columns);
    const pg = exportQuery(cls('Organization'), columns, POSTGRES_DIALECT);
    assert.deepEqual(pg.layout, lite.layout);
    assert.equal(pg.sql, lite.sql.replace(/coalesce\((.*), 0\) FROM/, 'CASE WHEN $1 THEN 1 ELSE 0 END FROM'));
    const team = requestedColumns(model, cls('Team'), ['name', 'persons_list']);
    assert.match(
      exportQuery(cls('Team'), team, POSTGRES_DIALECT).sql,
      /\(SELECT coalesce\(json_agg\(json_build_array\(l\.to_id, t\."name"\) ORDER BY l\.to_id\)::text, '\[\]'\) FROM "Team_persons_list" l JOIN "Person" t ON t\.id = l\.to_id WHERE l\.from_id = c\.id\)/,
    );
    assert.match(POSTGRES_DIALECT.linkSet('t."open"', 'boolean', 'L l JOIN T t ON t.id = l.to_id', 'l.from_id = c.id'), /json_build_array\(l\.to_id, t\."open"::int\)/, 'booleans as 1/0, as SQLite has them');
  });
});
