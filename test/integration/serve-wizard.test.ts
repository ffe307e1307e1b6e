/**
 * The calls the import wizard's page makes beside the job API, over real HTTP against the
 * built `sluice serve`: GET /v1/classes, POST /v1/preview, GET /v1/jobs, GET /v1/changes,
 * and the page itself at / and /ui/{file}. Every answer is checked against the OpenAPI
 * document by call().
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { query, suiteSandboxes, type Sandbox } from '../helpers/cli.js';
import { ITOP_ORGS_CSV, ITOP_PERSON_CSV } from '../helpers/fixtures.js';
import { type Server, addToken, call, finished, freshDb, json, postCsv, serve, stop, tokenOf, until } from '../helpers/serve.js';

interface Preview {
  class: string;
  separator: string | null;
  separatorDetected: boolean;
  charset: string;
  charsetFrom: string;
  suggestedCharset: string | null;
  dateFormat: string;
  suggestedDateFormat: string | null;
  columns: { index: number; name: string; mapping: { kind: string; attribute: string; header: string; sub?: string } | null; error: string | null; key: string | null }[];
  keys: string[];
  planError: string | null;
  rows: { line: number; cells: string[]; error: string | null }[];
  more: boolean;
  headerBytes: number | null;
  error: { code: string; message: string; line: number | null } | null;
}

async function errorOf(r: Response): Promise<{ code: string; message: string }> {
  return (await json(r)).error as { code: string; message: string };
}

function previewCall(s: Server, q: string, body: string | Buffer, bearer?: string, type = 'text/csv'): Promise<Response> {
  return call(s, `/v1/preview?${q}`, { method: 'POST', headers: { 'content-type': type }, body }, bearer ?? s.token);
}

async function preview(s: Server, q: string, body: string | Buffer): Promise<Preview> {
  const r = await previewCall(s, q, body);
  const b = await json(r);
  assert.equal(r.status, 200, JSON.stringify(b));
  return b as unknown as Preview;
}

describe('sluice serve: the wizard\'s calls', () => {
  const box = suiteSandboxes();
  let sb: Sandbox;
  let s: Server;
  let orgsOnly: string;
  let reader: string;
  let personJob: string;

  before(async () => {
    sb = box();
    await freshDb(sb);
    s = await serve(sb.db);
    orgsOnly = await addToken(sb.db, 'org-feed', 'importer', '--classes', 'Organization');
    reader = await addToken(sb.db, 'auditor', 'reader', '--classes', 'Person');
    const orgs = await tokenOf(await postCsv(s, 'class=Organization', ITOP_ORGS_CSV));
    assert.equal((await until(s, orgs, finished)).state, 'done');
    personJob = await tokenOf(await postCsv(s, 'class=Person&keys=Email', ITOP_PERSON_CSV));
    assert.equal((await until(s, personJob, finished)).state, 'done');
  });
  after(async () => stop(s));

  describe('GET /v1/classes', () => {
    it('lists the classes of the model with their labels and attributes', async () => {
      const r = await call(s, '/v1/classes');
      assert.equal(r.status, 200);
      const b = (await json(r)) as { role: string; canImport: boolean; classes: { name: string; label: string; reconciliation: string[]; attributes: { code: string; label: string; header: string[] }[] }[] };
      assert.equal(b.role, 'admin');
      assert.equal(b.canImport, true);
      const person = b.classes.find((c) => c.name === 'Person');
      assert.ok(person);
      assert.deepEqual(person.reconciliation, ['name', 'first_name', 'org_id']);
      const name = person.attributes.find((a) => a.code === 'name');
      assert.equal(name?.label, 'Last Name');
      assert.deepEqual(person.attributes.find((a) => a.code === 'org_id')?.header, ['org_id->name']);
      assert.ok(b.classes.some((c) => c.name === 'Server'));
    });

    it("an importer or reader sees its classes only; a reader may not import", async () => {
      const o = (await json(await call(s, '/v1/classes', {}, orgsOnly))) as { classes: { name: string }[]; canImport: boolean; name: string };
      assert.deepEqual(o.classes.map((c) => c.name), ['Organization']);
      assert.equal(o.canImport, true);
      assert.equal(o.name, 'org-feed');
      const rd = (await json(await call(s, '/v1/classes', {}, reader))) as { classes: { name: string }[]; canImport: boolean };
      assert.deepEqual(rd.classes.map((c) => c.name), ['Person']);
      assert.equal(rd.canImport, false);
    });

    it('needs a token', async () => {
      const r = await call(s, '/v1/classes', {}, null);
      assert.equal(r.status, 401);
      assert.equal((await errorOf(r)).code, 'E_AUTH');
      assert.equal((await call(s, '/v1/classes', {}, 'slu_nope')).status, 401);
    });
  });

  describe('POST /v1/preview', () => {
    it('maps the header column by column, an unknown column with its reason, and shows the first rows as parsed', async () => {
      const csv = ITOP_PERSON_CSV.replace(',Email,', ',E-mail address,');
      const p = await preview(s, 'class=Person', csv);
      assert.equal(p.class, 'Person');
      assert.equal(p.separator, ',');
      assert.equal(p.separatorDetected, true);
      assert.equal(p.charset, 'UTF-8');
      assert.equal(p.charsetFrom, 'default');
      assert.equal(p.dateFormat, 'ISO 8601');
      assert.deepEqual(
        p.columns.map((c) => c.mapping?.header ?? null),
        ['name', 'status', 'org_id->name', null, 'phone', 'notify', 'function', 'first_name'],
      );
      const bad = p.columns[3];
      assert.equal(bad?.name, 'E-mail address');
      assert.match(bad?.error ?? '', /^unknown column "E-mail address" \(valid columns for Person: id, source, source_id, name \(Last Name\)/);
      assert.equal(p.columns[2]?.mapping?.kind, 'ref');
      assert.equal(p.columns[2]?.mapping?.sub, 'name');
      assert.equal(p.columns[2]?.key, 'org_id');
      assert.deepEqual(p.keys, [], 'no plan while a column maps to nothing');
      assert.deepEqual(p.rows, [{ line: 2, cells: ['Flaubert', 'Active', 'IT Department', '', '', 'yes', '', 'Gustave'], error: null }]);
      assert.equal(p.more, false);
      assert.equal(p.headerBytes, csv.indexOf('\n') + 1);
      assert.equal(p.error, null);
    });

    it('gives the keys the run would use, and the cast errors of the rows shown', async () => {
      const csv = 'name;first_name;email;notify\nHugo;Victor;vh@x.org;yes\nSand;George;gs@x.org;maybe\n';
      const p = await preview(s, 'class=Person&keys=email', csv);
      assert.equal(p.separator, ';');
      assert.deepEqual(p.keys, ['email']);
      assert.equal(p.planError, null);
      assert.equal(p.rows[0]?.error, null);
      assert.equal(p.rows[1]?.line, 3);
      assert.match(p.rows[1]?.error ?? '', /column "notify": .*maybe/);
      const bad = await preview(s, 'class=Person&keys=phone', csv);
      assert.match(bad.planError ?? '', /--keys "phone": the file has no column for phone/);
    });

    it('shows as many rows as asked, says more follow, and drops the last record of a cut sample', async () => {
      const csv = `name,first_name\n${Array.from({ length: 30 }, (_, i) => `P${i},F${i}`).join('\n')}\n`;
      const p = await preview(s, 'class=Person&rows=5', csv);
      assert.deepEqual(p.rows.map((r) => r.line), [2, 3, 4, 5, 6]);
      assert.equal(p.more, true);
      const all = await preview(s, 'class=Person&rows=200', csv);
      assert.equal(all.rows.length, 30);
      assert.equal(all.more, false);
      // A sample cut inside a quoted field: not an error, and its last record not shown.
      const cut = await preview(s, 'class=Person&truncated=1', 'name,first_name\nHugo,Victor\nSand,"Geo');
      assert.equal(cut.error, null);
      assert.deepEqual(cut.rows.map((r) => r.cells), [['Hugo', 'Victor']]);
    });

    it('a malformed file, or one not in UTF-8, is said with its line; a charset is suggested', async () => {
      const p = await preview(s, 'class=Person', 'name,first_name\nHugo,Victor\n"Sand,George\n');
      assert.equal(p.error?.code, 'E_MALFORMED');
      assert.equal(p.error?.line, 3);
      assert.match(p.error?.message ?? '', /line 3/);
      assert.deepEqual(p.rows.map((r) => r.line), [2]);
      const latin1 = Buffer.concat([Buffer.from('name,first_name\nHugo,Victor\nDupr'), Buffer.from([0xe9]), Buffer.from(',Ren\n')]);
      const u = await preview(s, 'class=Person', latin1);
      assert.equal(u.error?.code, 'E_ENCODING');
      assert.equal(u.error?.line, 3);
      assert.equal(u.suggestedCharset, 'WINDOWS-1252');
      const w = await preview(s, 'class=Person&charset=windows-1252', latin1);
      assert.equal(w.error, null);
      assert.equal(w.charset, 'WINDOWS-1252');
      assert.equal(w.charsetFrom, 'given');
      assert.deepEqual(w.rows[1]?.cells, ['Dupré', 'Ren']);
      assert.equal(w.headerBytes, 'name,first_name\n'.length);
      const bom = await preview(s, 'class=Person', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('name\nHugo\n')]));
      assert.equal(bom.charsetFrom, 'bom');
      assert.equal(bom.headerBytes, 3 + 'name\n'.length);
    });

    it('reads a form, the options before or after the file, and JSON', async () => {
      const form = new FormData();
      form.set('file', new Blob(['name|first_name\nHugo|Victor\n']), 'people.csv');
      form.set('class', 'Person');
      form.set('rows', '1');
      const r = await call(s, '/v1/preview', { method: 'POST', body: form });
      const b = (await json(r)) as unknown as Preview;
      assert.equal(r.status, 200, JSON.stringify(b));
      assert.equal(b.separator, '|');
      assert.deepEqual(b.rows[0]?.cells, ['Hugo', 'Victor']);
      const j = await preview(s, 'class=Person&format=json', '[{"name":"Hugo","email":"vh@x.org"},{"name":"Sand"}]');
      assert.deepEqual(j.columns.map((c) => c.name), ['name', 'email']);
      assert.equal(j.separator, null);
      assert.equal(j.headerBytes, null);
      assert.deepEqual(j.rows.map((x) => x.cells), [['Hugo', 'vh@x.org'], ['Sand', '']]);
    });

    it('writes nothing', async () => {
      const before = query(sb.db, 'SELECT id FROM _sluice_change').length;
      await preview(s, 'class=Person', 'name\nNobody\n');
      assert.equal(query(sb.db, 'SELECT id FROM _sluice_change').length, before);
      assert.equal(query(sb.db, "SELECT id FROM Person WHERE name = 'Nobody'").length, 0);
    });

    it('refuses bad options, classes the token may not touch, readers and bad bodies, in words', async () => {
      const cases: [string, string | undefined, string, number, RegExp][] = [
        ['class=Person&action=merge', undefined, 'text/csv', 400, /--action: "merge" is not valid/],
        ['class=Nope', undefined, 'text/csv', 400, /unknown class "Nope"/],
        ['class=Person&rows=0', undefined, 'text/csv', 400, /rows: "0" is not valid \(a whole number from 1 to 200\)/],
        ['class=Person&truncated=maybe', undefined, 'text/csv', 400, /truncated: "maybe" is not valid/],
        ['class=Person&db=x.db', undefined, 'text/csv', 400, /db/],
        ['class=Person', orgsOnly, 'text/csv', 403, /the token "org-feed" \(importer\) may not touch class Person \(its classes: Organization\)/],
        ['class=Person', reader, 'text/csv', 403, /the token "auditor" is a reader/],
        ['class=Person', undefined, 'image/png', 400, /content type "image\/png" is not accepted/],
        ['class=Person', 'slu_nope', 'text/csv', 401, /the token is not valid/],
      ];
      for (const [q, bearer, type, status, message] of cases) {
        const r = await previewCall(s, q, 'name\nHugo\n', bearer, type);
        assert.equal(r.status, status, q);
        assert.match((await errorOf(r)).message, message, q);
      }
      const form = new FormData();
      form.set('class', 'Person');
      const none = await call(s, '/v1/preview', { method: 'POST', body: form });
      assert.equal(none.status, 400);
      assert.match((await errorOf(none)).message, /the form has no "file" field/);
    });
  });

  describe('GET /v1/jobs and GET /v1/changes', () => {
    it('list the recent jobs, newest first, with what they did', async () => {
      const r = await call(s, '/v1/jobs');
      assert.equal(r.status, 200);
      const jobs = ((await json(r)) as { jobs: { token: string; kind: string; class: string; state: string; results: { created: number } | null; logfile?: string; change: number | null }[] }).jobs;
      const person = jobs.find((j) => j.token === personJob);
      assert.ok(person);
      assert.equal(person.kind, 'import');
      assert.equal(person.class, 'Person');
      assert.equal(person.state, 'done');
      assert.equal(person.results?.created, 1);
      assert.equal(person.logfile, `/v1/import/${personJob}/log`);
      assert.ok(jobs.findIndex((j) => j.token === personJob) < jobs.findIndex((j) => j.class === 'Organization'), 'newest first');
      const one = (await json(await call(s, '/v1/jobs?limit=1'))) as { jobs: unknown[] };
      assert.equal(one.jobs.length, 1);
    });

    it('list the recent changes as sluice changes does', async () => {
      const r = await call(s, '/v1/changes');
      assert.equal(r.status, 200);
      const b = (await json(r)) as { changes: { id: number; class: string; outcome: string; created: number; undone_by: number | null }[]; total: number };
      assert.equal(b.changes[0]?.class, 'Person');
      assert.equal(b.changes[0]?.created, 1);
      assert.equal(b.changes[0]?.outcome, 'committed');
      assert.equal(b.total, query(sb.db, 'SELECT id FROM _sluice_change').length);
      assert.deepEqual(b.changes.map((c) => c.id), [...b.changes.map((c) => c.id)].sort((x, y) => y - x));
    });

    it("show a token its classes' jobs and changes only", async () => {
      const jobs = ((await json(await call(s, '/v1/jobs', {}, orgsOnly))) as { jobs: { class: string }[] }).jobs;
      assert.ok(jobs.length > 0);
      assert.deepEqual([...new Set(jobs.map((j) => j.class))], ['Organization']);
      const changes = (await json(await call(s, '/v1/changes', {}, orgsOnly))) as { changes: { class: string }[]; total: number };
      assert.deepEqual([...new Set(changes.changes.map((c) => c.class))], ['Organization']);
      assert.equal(changes.total, changes.changes.length);
      const readerJobs = ((await json(await call(s, '/v1/jobs', {}, reader))) as { jobs: { class: string }[] }).jobs;
      assert.deepEqual([...new Set(readerJobs.map((j) => j.class))], ['Person']);
    });

    it('refuse a bad limit, an unknown option and a missing token', async () => {
      for (const path of ['/v1/jobs', '/v1/changes']) {
        for (const [q, message] of [
          ['limit=0', /limit: "0" is not valid \(a whole number from 1 to 200\)/],
          ['limit=abc', /limit: "abc" is not valid/],
          ['limit=201', /limit: "201" is not valid/],
          ['limit=1&limit=2', /limit: given more than once/],
          ['class=Person', /unknown option class \(valid: limit\)/],
        ] as const) {
          const r = await call(s, `${path}?${q}`);
          assert.equal(r.status, 400, `${path}?${q}`);
          assert.match((await errorOf(r)).message, message);
        }
        assert.equal((await call(s, path, {}, null)).status, 401);
      }
    });
  });

  describe('the page', () => {
    it('is served at / without a token, with a strict Content-Security-Policy', async () => {
      const r = await call(s, '/', {}, null);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
      const csp = r.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      const html = await r.text();
      assert.match(html, /<script type="module" src="\/ui\/app\.js"><\/script>/);
      assert.doesNotMatch(html, /<script>(?!<)|<script(?![^>]*src=)[^>]*>|\sstyle=|https?:\/\//, 'no inline script or style, nothing from elsewhere');
    });

    it('serves its scripts and style sheet with their types, and nothing else', async () => {
      const js = await call(s, '/ui/app.js', {}, null);
      assert.equal(js.status, 200);
      assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
      assert.match(await js.text(), /from '\.\/api\.js'/);
      const css = await call(s, '/ui/wizard.css', {}, null);
      assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
      for (const path of ['/ui/nope.js', '/ui/..%2Fsrc%2Fcli%2Fmain.js', '/ui/.tsbuildinfo']) {
        const r = await call(s, path, {}, null);
        assert.equal(r.status, 404, path);
        assert.equal((await errorOf(r)).code, 'E_NOT_FOUND');
      }
    });
  });
});
