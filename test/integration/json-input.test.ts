import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli, sandbox, type Sandbox } from '../helpers/cli.js';

const ROWS: Record<string, string | null>[] = [
  { name: 'Flaubert', first_name: 'Gustave', 'org_id->name': 'IT Department', email: 'gf@x.org', phone: '+33 1', status: 'Active' },
  { name: 'Zola', first_name: 'Émile, "Z"', 'org_id->name': 'IT Department', email: 'ez@x.org', phone: null, status: 'inactive' },
  { name: 'Hugo', first_name: 'Victor', 'org_id->name': 'Nowhere', email: 'vh@x.org', phone: '', status: 'active' },
  { name: 'Flaubert', first_name: 'G.', 'org_id->name': 'IT Department', email: 'gf@x.org', phone: '+33 2', status: 'active' },
  { name: 'Sand', first_name: 'George', 'org_id->name': 'IT Department', email: 'gs@x.org', phone: '+33 3', status: 'sleeping' },
];
const KEYS = Object.keys(ROWS[0] as object);

const csvCell = (v: string | null): string => (v === null ? '<NULL>' : `"${v.replaceAll('"', '""')}"`);
const CSV = `${KEYS.join(',')}\n${ROWS.map((r) => KEYS.map((k) => csvCell(r[k] === undefined ? '' : (r[k] as string | null))).join(',')).join('\n')}\n`;
/** One object per line after the opening bracket: line numbers match the CSV file's. */
const JSON_ARRAY = `[\n${ROWS.map((r) => JSON.stringify(r)).join(',\n')}\n]\n`;

/** The report without what legitimately differs between the two files. */
function comparable(stdout: string): string {
  return stdout
    .split('\n')
    .filter((l) => !/^#(Separator|Qualifier|Data Size|Elapsed|Rows\/s|Peak memory|Change):/.test(l))
    .join('\n');
}

describe('JSON input gives the same results as CSV', () => {
  let box: Sandbox;
  before(() => {
    box = sandbox();
  });
  after(() => box.cleanup());

  async function run(file: string, db: string, extra: string[] = []): Promise<string> {
    const orgs = box.file('orgs.csv', 'name\nIT Department\n');
    const o = await runCli(['import', '--db', db, '--class', 'Organization', '--file', orgs, '--progress', 'none']);
    assert.equal(o.code, 0, o.stderr);
    const r = await runCli(['import', '--db', db, '--class', 'Person', '--file', file, '--keys', 'email', '--no-stop-on-error', '--output', 'details', '--progress', 'none', ...extra]);
    assert.equal(r.code, 1, r.stderr);
    return r.stdout;
  }

  it('an array of objects and the CSV file give identical reports', async () => {
    const csv = await run(box.file('p.csv', CSV), `${box.dir}/csv.db`);
    const json = await run(box.file('p.json', JSON_ARRAY), `${box.dir}/json.db`);
    assert.match(csv, /^5,updated,1,"changed: first_name, phone"/m);
    assert.match(csv, /^6,error,,.*sleeping/m);
    assert.equal(comparable(json), comparable(csv));
  });

  it('one object per line, from stdin with --format json, gives the same statuses', async () => {
    const ndjson = ROWS.map((r) => JSON.stringify(r)).join('\n');
    const orgs = box.file('orgs2.csv', 'name\nIT Department\n');
    const db = `${box.dir}/nd.db`;
    assert.equal((await runCli(['import', '--db', db, '--class', 'Organization', '--file', orgs, '--progress', 'none'])).code, 0);
    const r = await runCli(['import', '--db', db, '--class', 'Person', '--file', '-', '--format', 'json', '--keys', 'email', '--no-stop-on-error', '--output', 'json', '--progress', 'none'], { input: ndjson });
    const report = JSON.parse(r.stdout) as { created: number; updated: number; errors: number; rows: { line: number; status: string }[] };
    assert.deepEqual(report.rows.map((x) => [x.line, x.status]), [[1, 'created'], [2, 'created'], [3, 'error'], [4, 'updated'], [5, 'error']]);
    assert.equal(report.errors, 2);
    assert.equal(report.updated, 1);
  });

  it('malformed JSON stops with exit 3 naming the line, nothing written', async () => {
    const db = `${box.dir}/bad.db`;
    const r = await runCli(['import', '--db', db, '--class', 'Person', '--file', box.file('bad.json', '[\n{"name": "a"},\n{"name": tru}\n]\n'), '--progress', 'none']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /line 3/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it('an empty array is an import of no rows (exit 0), as a header-only CSV file is; an empty file is not', async () => {
    const db = `${box.dir}/empty.db`;
    const r = await runCli(['import', '--db', db, '--class', 'Person', '--file', box.file('none.json', '[ ]\n'), '--progress', 'none', '--output', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { created: number; lines: number; errors: number };
    assert.deepEqual([report.created, report.lines, report.errors], [0, 0, 0]);
    const e = await runCli(['import', '--db', db, '--class', 'Person', '--file', box.file('zero.json', ''), '--progress', 'none']);
    assert.equal(e.code, 3);
    assert.match(e.stderr, /line 1: .*empty; it must hold an array of objects or one object per line|the file is empty; it must hold an array of objects/);
  });

  it('numbers keep every digit in text attributes', async () => {
    const db = `${box.dir}/num.db`;
    const file = box.file('num.json', '[\n{"name":"A","code":12345678901234567890},\n{"name":"B","code":1.10},\n{"name":"C","code":1e400}\n]\n');
    const r = await runCli(['import', '--db', db, '--class', 'Organization', '--file', file, '--output', 'json', '--progress', 'none']);
    assert.equal(r.code, 0, r.stderr);
    const exp = await runCli(['export', '--db', db, '--class', 'Organization', '--columns', 'name,code']);
    assert.deepEqual(exp.stdout.trim().split('\n'), ['name,code', 'A,12345678901234567890', 'B,1.10', 'C,1e400']);
  });

  it('a NUL or an unpaired surrogate in a value is a row error naming the line and key; nothing of it is stored', async () => {
    const db = `${box.dir}/nul.db`;
    const file = box.file('nul.json', '[\n{"name":"A"},\n{"name":"B\\u0000"},\n{"name":"\\udfff"}\n]\n');
    const r = await runCli(['import', '--db', db, '--class', 'Organization', '--file', file, '--no-stop-on-error', '--output', 'json', '--progress', 'none']);
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout) as { rows: { line: number; status: string; message?: string }[] };
    assert.deepEqual(report.rows.map((x) => [x.line, x.status]), [[2, 'created'], [3, 'error'], [4, 'error']]);
    assert.match(report.rows[1]?.message ?? '', /key "name": the value holds U\+0000/);
    assert.match(report.rows[2]?.message ?? '', /key "name": the value holds an unpaired surrogate/);
    const exp = await runCli(['export', '--db', db, '--class', 'Organization', '--columns', 'name']);
    assert.deepEqual(exp.stdout.trim().split('\n'), ['name', 'A']);
  });
});
