/**
 * `sluice serve` (SPEC §6): bearer tokens and roles, the export endpoint, the request log,
 * --insecure-no-auth and --retention, over real HTTP against the built CLI.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { query, runCli, startCli, suiteSandboxes, type Sandbox } from '../helpers/cli.js';
import { type Server, addToken, call, finished, freshDb, json, postCsv, serve, stop, tokenOf, until } from '../helpers/serve.js';

const ORGS = 'name,code\nSales,S1\nMarketing,M1\n';
const PEOPLE = 'name,first_name,org_id->name,email\nHugo,Victor,Sales,vh@x.org\nSand,George,Marketing,gs@x.org\n';

async function errorOf(r: Response): Promise<{ code: string; message: string }> {
  return (await json(r)).error as { code: string; message: string };
}

describe('sluice serve: tokens, roles and exports', () => {
  const box = suiteSandboxes();
  let sb: Sandbox;
  let s: Server;
  let importer: string;
  let reader: string;
  let revoked: string;
  let orgJob: string;

  before(async () => {
    sb = box();
    await freshDb(sb);
    s = await serve(sb.db);
    importer = await addToken(sb.db, 'hr-feed', 'importer', '--classes', 'person');
    reader = await addToken(sb.db, 'auditor', 'reader', '--classes', 'Person,Organization');
    revoked = await addToken(sb.db, 'old', 'admin');
    const r = await runCli(['token', 'revoke', 'old', '--db', sb.db]);
    assert.equal(r.code, 0, r.stderr);
    orgJob = await tokenOf(await postCsv(s, 'class=Organization', ORGS));
    assert.equal((await until(s, orgJob, finished)).state, 'done');
  });
  after(async () => stop(s));

  it('a token is printed once and listed without its secret', async () => {
    assert.match(importer, /^slu_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/);
    const list = await runCli(['token', 'list', '--db', sb.db, '--format', 'json']);
    assert.equal(list.code, 0, list.stderr);
    const tokens = JSON.parse(list.stdout) as { name: string; role: string; classes: string[] | null; revokedAt: string | null }[];
    assert.deepEqual(
      tokens.map((t) => [t.name, t.role, t.classes, t.revokedAt !== null]),
      [
        ['auditor', 'reader', ['Person', 'Organization'], false],
        ['hr-feed', 'importer', ['Person'], false],
        ['old', 'admin', null, true],
        ['test-admin', 'admin', null, false],
      ],
    );
    assert.ok(!list.stdout.includes(importer.slice(13)), 'no secret in the list');
    const stored = query<{ hash: Buffer }>(`${sb.db}.spool/jobs.db`, 'SELECT hash FROM _sluice_token WHERE name = ?', 'hr-feed')[0]?.hash;
    assert.equal(stored?.length, 32, 'a SHA-256, not the token');
  });

  it('no token, a bad one or a revoked one is a 401 that says which', async () => {
    const none = await call(s, `/v1/import/${orgJob}`, {}, null);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="sluice"');
    assert.match((await errorOf(none)).message, /no token: send the header "Authorization: Bearer <token>"/);
    const bad = await call(s, `/v1/import/${orgJob}`, {}, `${importer.slice(0, -1)}x`);
    assert.equal(bad.status, 401);
    assert.equal((await errorOf(bad)).code, 'E_AUTH');
    const basic = await call(s, `/v1/import/${orgJob}`, { headers: { authorization: 'Basic YTpi' } });
    assert.match((await errorOf(basic)).message, /not "Bearer <token>"/);
    const old = await call(s, `/v1/import/${orgJob}`, {}, revoked);
    assert.equal(old.status, 401);
    assert.match((await errorOf(old)).message, /the token "old" was revoked/);
    // The health check and the API's description need no token.
    assert.equal((await call(s, '/v1/health', {}, null)).status, 200);
  });

  it('an importer imports into its classes only: another class is a 403 naming it, before the body is read', async () => {
    const other = await call(s, '/v1/import?class=Organization', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: ORGS }, importer);
    assert.equal(other.status, 403);
    const e = await errorOf(other);
    assert.equal(e.code, 'E_FORBIDDEN');
    assert.equal(e.message, 'the token "hr-feed" (importer) may not touch class Organization (its classes: Person)');
    // In a form, the class may come after the file: refused all the same, its upload removed.
    const form = new FormData();
    form.set('file', new Blob([ORGS]), 'orgs.csv');
    form.set('class', 'Organization');
    const late = await call(s, '/v1/import', { method: 'POST', body: form }, importer);
    assert.equal(late.status, 403);
    assert.deepEqual(readdirSync(`${sb.db}.spool`).filter((f) => f.endsWith('.upload')), []);

    const mine = await tokenOf(await call(s, '/v1/import?class=Person&keys=email', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: PEOPLE }, importer));
    const st = await until(s, mine, finished);
    assert.equal(st.state, 'done', JSON.stringify(st));
    assert.equal((await call(s, `/v1/import/${mine}`, {}, importer)).status, 200);
    // Another class's job is not the importer's to see.
    assert.equal((await call(s, `/v1/import/${orgJob}`, {}, importer)).status, 404);
    assert.equal((await call(s, `/v1/import/${orgJob}/log`, {}, importer)).status, 404);
  });

  it('a reader may read job states and export, not import, sync or cancel', async () => {
    const up = await call(s, '/v1/import?class=Person', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: PEOPLE }, reader);
    assert.equal(up.status, 403);
    assert.match((await errorOf(up)).message, /the token "auditor" is a reader: it may export and read job states/);
    const sync = await call(s, '/v1/sources/any/sync', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: PEOPLE }, reader);
    assert.equal(sync.status, 403);
    const st = await call(s, `/v1/import/${orgJob}`, {}, reader);
    assert.equal(st.status, 200);
    assert.equal((await json(st)).state, 'done');
    const cancel = await call(s, `/v1/import/${orgJob}`, { method: 'DELETE' }, reader);
    assert.equal(cancel.status, 403);
    const exp = await call(s, '/v1/export/Organization', {}, reader);
    assert.equal(exp.status, 200);
    assert.match(await exp.text(), /^name,code/);
    const forbidden = await call(s, '/v1/export/Server', {}, reader);
    assert.equal(forbidden.status, 403);
    assert.match((await errorOf(forbidden)).message, /may not touch class Server \(its classes: Person, Organization\)/);
  });

  it('GET /v1/export/{class} streams what `sluice export` writes, with its options', async () => {
    for (const q of ['', '?columns=name,code&format=tsv', '?format=json', '?separator=;&raw']) {
      const r = await call(s, `/v1/export/organization${q}`);
      assert.equal(r.status, 200, q);
      const args = ['export', '--db', sb.db, '--class', 'Organization'];
      for (const [k, v] of new URLSearchParams(q.slice(1))) args.push(v === '' ? `--${k}` : `--${k}=${v}`);
      const cli = await runCli(args);
      assert.equal(cli.code, 0, cli.stderr);
      assert.equal(await r.text(), cli.stdout, q);
      const type = r.headers.get('content-type') ?? '';
      assert.match(type, q.includes('json') ? /^application\/json/ : q.includes('tsv') ? /^text\/tab-separated-values/ : /^text\/csv/);
      assert.match(r.headers.get('content-disposition') ?? '', /^attachment; filename="Organization\.(csv|tsv|json)"$/);
    }
    const bad = await call(s, '/v1/export/Organization?format=xml');
    assert.equal(bad.status, 400);
    assert.equal((await errorOf(bad)).message, '--format: "xml" is not valid (valid: csv, tsv, json)');
    const col = await call(s, '/v1/export/Organization?columns=nme');
    assert.equal(col.status, 400);
    assert.match((await errorOf(col)).message, /nme/);
    const cls = await call(s, '/v1/export/Nope');
    assert.equal(cls.status, 404);
    assert.match((await errorOf(cls)).message, /unknown class "Nope" .*\(valid: Organization, /);
    const other = await call(s, '/v1/export/Organization?output=/tmp/x.csv');
    assert.equal(other.status, 400);
    assert.match((await errorOf(other)).message, /unknown option --output/);
  });

  it('logs each request as one JSON line, without a token or a query value', async () => {
    await call(s, '/v1/import?class=Person&comment=secret-comment', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: PEOPLE }, importer);
    await call(s, `/v1/import/${orgJob}`, {}, reader);
    await s.cli.stderrMatches(/"token":"auditor"/);
    const err = s.cli.stderrText();
    const lines = err
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const requests = lines.filter((l) => l.msg === 'request');
    assert.ok(requests.some((l) => l.method === 'POST' && l.path === '/v1/import' && l.token === 'hr-feed' && typeof l.status === 'number' && typeof l.ms === 'number'));
    assert.ok(requests.some((l) => l.path === `/v1/import/${orgJob.slice(0, 8)}…` && l.status === 200 && l.token === 'auditor'));
    assert.ok(requests.some((l) => l.status === 401 && l.token === null));
    for (const secret of [importer, reader, revoked, s.token, orgJob, 'secret-comment']) assert.ok(!err.includes(secret), 'nothing secret in the log');
  });
});

describe('sluice serve: without tokens, and --retention', () => {
  const box = suiteSandboxes();

  it('a server with no token refuses every request but the health check, and says how to make one', async () => {
    const sb = box();
    await freshDb(sb);
    const cli = startCli(['serve', '--db', sb.db, '--port', '0']);
    try {
      await cli.stderrMatches(/no token exists yet, .*sluice token add --db .* --name NAME --role admin/);
      const url = /listening on (http:\/\/\S+) /.exec(cli.stderrText())?.[1] as string;
      assert.equal((await fetch(`${url}/v1/import/x`)).status, 401);
      assert.equal((await fetch(`${url}/v1/health`)).status, 200);
    } finally {
      cli.child.kill('SIGTERM');
      await cli.done;
    }
  });

  it('--insecure-no-auth serves without a token, and says so loudly', async () => {
    const sb = box();
    await freshDb(sb);
    const cli = startCli(['serve', '--db', sb.db, '--port', '0', '--insecure-no-auth']);
    try {
      await cli.stderrMatches(/WARNING: --insecure-no-auth: anyone who can reach http:\/\/\S+ may import/);
      const url = /listening on (http:\/\/\S+) /.exec(cli.stderrText())?.[1] as string;
      const r = await fetch(`${url}/v1/import?class=Organization`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: ORGS });
      assert.equal(r.status, 202);
    } finally {
      cli.child.kill('SIGTERM');
      await cli.done;
    }
  });

  it('--retention 0 forgets a job, its log and its upload as soon as it ends', async () => {
    const sb = box();
    await freshDb(sb);
    const s = await serve(sb.db, '--retention', '0');
    try {
      const token = await tokenOf(await postCsv(s, 'class=Organization', ORGS));
      const end = Date.now() + 30_000;
      while ((await call(s, `/v1/import/${token}`)).status !== 404) {
        assert.ok(Date.now() < end, 'the job was never removed');
        await new Promise((r) => setTimeout(r, 25));
      }
      assert.equal(query<{ n: number }>(sb.db, "SELECT count(*) AS n FROM Organization WHERE name = 'Sales'")[0]?.n, 1, 'the import itself stays');
      assert.deepEqual(readdirSync(`${sb.db}.spool`).filter((f) => f.startsWith(token)), []);
      await s.cli.stderrMatches(/1 finished job past --retention removed/);
    } finally {
      await stop(s);
    }
  });

  it('a bad --retention, role or class is refused naming the option', async () => {
    const sb = box();
    await freshDb(sb);
    const bad = await runCli(['serve', '--db', sb.db, '--port', '0', '--retention', 'soon']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--retention: "soon" is not a duration/);
    const role = await runCli(['token', 'add', '--db', sb.db, '--name', 'x', '--role', 'root']);
    assert.equal(role.code, 2);
    assert.match(role.stderr, /--role: "root" is not valid \(valid: admin, importer, reader\)/);
    const cls = await runCli(['token', 'add', '--db', sb.db, '--name', 'x', '--role', 'importer', '--classes', 'Persn']);
    assert.equal(cls.code, 2);
    assert.match(cls.stderr, /unknown class "Persn" for --classes/);
    const again = await runCli(['token', 'add', '--db', sb.db, '--name', 'x', '--role', 'admin']);
    assert.equal(again.code, 0);
    const dup = await runCli(['token', 'add', '--db', sb.db, '--name', 'x', '--role', 'admin']);
    assert.equal(dup.code, 2);
    assert.match(dup.stderr, /a token named "x" exists; revoke it first/);
    const missing = await runCli(['token', 'add', '--db', `${sb.dir}/none.db`, '--name', 'y', '--role', 'admin']);
    assert.equal(missing.code, 2);
    assert.ok(!existsSync(`${sb.dir}/none.db.spool`), 'no spool made for a database that is not there');
  });
});
