/**
 * A bundle over HTTP: a multipart POST /v1/import with several `file` parts runs as one job,
 * one change, in the model's order; every answer is checked against the OpenAPI document.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { query, runCli, type Sandbox, sandbox } from '../helpers/cli.js';
import { ITOP_ORGS_CSV, countOf } from '../helpers/fixtures.js';
import { type Server, addToken, call, finished, freshDb, json, serve, stop, tokenOf, until, uploads } from '../helpers/serve.js';

const LOCATIONS = 'Name,Owner organization->Name\nParis,IT Department\n';
const PEOPLE = 'Last Name,Organization->Name,Location->Name,Email,First Name\nFlaubert,IT Department,Paris,gustave@example.com,Gustave\n';
const LOGINS = 'Contact (person)->Email,Login,Language,Password,Profiles\ngustave@example.com,support,EN US,1234,profileid->name:Portal user\n';

function form(files: Record<string, string>, fields: Record<string, string> = {}): FormData {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  for (const [name, content] of Object.entries(files)) f.append('file', new Blob([content], { type: 'text/csv' }), name);
  return f;
}

const DEMO = { '1-UserLocal.csv': LOGINS, '2-Person.csv': PEOPLE, '3-Location.csv': LOCATIONS, '4-Organization.csv': ITOP_ORGS_CSV };

describe('a bundle over HTTP', () => {
  let sb: Sandbox;
  let s: Server;

  before(async () => {
    sb = sandbox();
    await freshDb(sb);
    s = await serve(sb.db);
  });
  after(async () => {
    await stop(s);
    sb.cleanup();
  });

  it('runs several file parts as one job and one change, in the model\'s order; its log has a section per file', async () => {
    const token = await tokenOf(await call(s, '/v1/import', { method: 'POST', body: form(DEMO, { comment: 'migration' }) }));
    const st = await until(s, token, finished);
    assert.deepEqual(st, { state: 'done', results: { created: 5, updated: 0, deleted: 0, unchanged: 0, skipped: 0, errors: 0 }, logfile: `/v1/import/${token}/log` });
    assert.deepEqual(
      query(sb.db, "SELECT class, action, file, comment, created FROM _sluice_change WHERE action = 'bundle'"),
      [{ class: 'Organization,Location,Person,UserLocal', action: 'bundle', file: '(upload)', comment: 'migration', created: 5 }],
    );
    assert.equal(query(sb.db, 'SELECT p.name FROM UserLocal u JOIN Person p ON p.id = u.contactid')[0]?.name, 'Flaubert');
    const csv = await (await call(s, `/v1/import/${token}/log`)).text();
    assert.match(csv, /^#File: 4-Organization\.csv\nline,status,id,message,Name\n2,created,\d+,,My Company\/Department\n3,created,\d+,,IT Department\n\n#File: 3-Location\.csv\n/);
    assert.match(csv, /#File: 1-UserLocal\.csv\nline,status,id,message,Contact \(person\)->Email,Login,Language,Password,Profiles\n2,created,\d+,,gustave@example\.com,support,EN US,\*+,/);
    const doc = await json(await call(s, `/v1/import/${token}/log?format=json`));
    assert.equal(doc.bundle, '(upload)');
    assert.deepEqual((doc.order as { class: string }[]).map((o) => o.class), ['Organization', 'Location', 'Person', 'UserLocal']);
    assert.deepEqual((doc.files as { file: string; rows: unknown[] }[]).map((f) => [f.file, f.rows.length]), [
      ['4-Organization.csv', 2],
      ['3-Location.csv', 1],
      ['2-Person.csv', 1],
      ['1-UserLocal.csv', 1],
    ]);
    assert.deepEqual(uploads(sb.db), [], 'the upload directory is gone once the job ran');
  });

  it('rolls every file back when the last one fails, naming it and the line', async () => {
    await runCli(['init', '--db', sb.db]);
    const before = countOf(sb.db, 'Location');
    const token = await tokenOf(await call(s, '/v1/import', { method: 'POST', body: form({ ...DEMO, '3-Location.csv': 'name,org_id->name\nLyon,IT Department\n', '1-UserLocal.csv': `${LOGINS}"",bad,EN US,1,profileid->name:Nobody\n` }) }));
    const st = await until(s, token, finished);
    assert.equal(st.state, 'error');
    assert.match(String(st.message), /^1-UserLocal\.csv: line 3: column "Profiles": unknown item/);
    assert.equal(countOf(sb.db, 'Location'), before, 'the Location file was rolled back with the rest');
  });

  it('reads a bundle.json part, and refuses a bad bundle at upload with a 400 naming the file', async () => {
    const manifest = JSON.stringify({ files: [{ file: 'places.txt', class: 'Location', separator: ';' }, { file: 'orgs.csv', class: 'Organization' }] });
    const token = await tokenOf(await call(s, '/v1/import', { method: 'POST', body: form({ 'bundle.json': manifest, 'places.txt': 'name;org_id->name\nNantes;Acme\n', 'orgs.csv': 'name\nAcme\n' }) }));
    assert.equal((await until(s, token, finished)).state, 'done');
    assert.equal(query(sb.db, "SELECT o.name FROM Location l JOIN Organization o ON o.id = l.org_id WHERE l.name = 'Nantes'")[0]?.name, 'Acme');

    const refused: [FormData, RegExp][] = [
      [form({ 'People.csv': 'name\nA\n', 'Organization.csv': 'name\nB\n' }), /--bundle: directory .*: "People\.csv" names no class/],
      [form({ 'Person.csv': 'name\nA\n', 'Organization.csv': 'name\nB\n' }, { class: 'Person' }), /class: cannot be given with several files/],
      [form({ 'Person.csv': 'name,shoe\nA,1\n', 'Organization.csv': 'name\nB\n' }), /Person\.csv: unknown column "shoe"/],
      [form({ 'bundle.json': JSON.stringify({ files: ['/etc/passwd', 'Person.csv'] }), 'Person.csv': 'name\nA\n' }), /files\[0\]: "passwd" is not named after a class|names no uploaded file/],
      [form({ 'bundle.json': JSON.stringify({ files: [{ file: '../x.csv', class: 'Person' }] }), 'Person.csv': 'name\nA\n' }), /names no uploaded file|cannot read/],
      [form({ 'Person.csv': 'name\nA\n', '.hidden.csv': 'name\nB\n' }), /need file names such as Person\.csv/],
    ];
    for (const [body, re] of refused) {
      const r = await call(s, '/v1/import', { method: 'POST', body });
      const b = await json(r);
      assert.equal(r.status, 400, JSON.stringify(b));
      assert.match((b.error as { message: string }).message, re);
    }
    assert.deepEqual(uploads(sb.db), [], 'a refused bundle leaves no upload behind');
  });

  it('lets an importer send a bundle only of its classes, and see and undo it', async () => {
    const importer = await addToken(sb.db, 'hr', 'importer', '--classes', 'Organization,Location');
    const files = { 'Organization.csv': 'name\nHR Org\n', 'Location.csv': 'name,org_id->name\nHR Site,HR Org\n' };
    const token = await tokenOf(await call(s, '/v1/import', { method: 'POST', body: form(files) }, importer));
    await until(s, token, finished);
    // The job is the importer's: all its classes are.
    assert.equal((await call(s, `/v1/import/${token}`, {}, importer)).status, 200);
    const change = query<{ id: number }>(sb.db, "SELECT max(id) AS id FROM _sluice_change WHERE action = 'bundle'")[0]?.id as number;
    const forbidden = await call(s, '/v1/import', { method: 'POST', body: form({ ...files, 'Person.csv': 'name\nX\n' }) }, importer);
    assert.equal(forbidden.status, 403);
    assert.match(((await json(forbidden)).error as { message: string }).message, /may not touch class Person/);
    const undo = await tokenOf(await call(s, `/v1/changes/${change}/undo`, { method: 'POST' }, importer));
    assert.equal((await until(s, undo, finished)).state, 'done');
    assert.deepEqual(query(sb.db, "SELECT name FROM Location WHERE name = 'HR Site' UNION ALL SELECT name FROM Organization WHERE name = 'HR Org'"), []);
  });
});
