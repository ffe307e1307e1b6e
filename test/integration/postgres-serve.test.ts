/**
 * `sluice serve` and `sluice token` on a PostgreSQL URL: the same service as on an SQLite file.
 * One `sluice serve` on a PostgreSQL schema runs beside one on an SQLite file, and each job is
 * sent to both (test/helpers/serve-pair.ts): the same state, the same log, the same data. A job
 * that must wait waits for the schema's writer lock, which the test holds itself on a connection
 * of its own; a job that must be cancelled, or whose server is killed, in the middle of its rows
 * is held at a pause point. Every wait is a bounded poll.
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import pg from 'pg';
import { writerLockKey } from '../../src/store/postgres/lock.js';
import { query, runCli, suiteSandboxes } from '../helpers/cli.js';
import { SECRET, stableTimes } from '../helpers/pg-pair.js';
import { usePostgres, waitFor } from '../helpers/postgres.js';
import { type ServePair, addPgToken, csvBody, servePair } from '../helpers/serve-pair.js';
import { call, finished, json, postCsv, state, tokenOf, until } from '../helpers/serve.js';

const server = usePostgres();

const ORGS = 'name,code\nSales,S1\nMarketing,M1\n';
const PEOPLE = 'name,first_name,org_id->name,email\nHugo,Victor,Sales,vh@x.org\nSand,George,Marketing,gs@x.org\nZola,Emile,Nowhere,ez@x.org\n';
const ZEROS = { created: 0, updated: 0, deleted: 0, unchanged: 0, skipped: 0, errors: 0 };

/** A URL of the test server's with the password every output is checked for. */
async function secretUrl(): Promise<string> {
  return (await server().freshDatabase()).replace('postgres@', `postgres:${SECRET}@`);
}

/** A port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((done) => s.listen(0, '127.0.0.1', done));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((done) => s.close(() => done()));
  return port;
}

/** The one line a refused command writes, with the password nowhere. */
function oneLine(stderr: string): string {
  assert.ok(!stderr.includes(SECRET), `the password is never printed: ${stderr}`);
  assert.equal(stderr.split('\n').filter((l) => l !== '').length, 1, `one line: ${stderr}`);
  return stderr.trim();
}

describe('sluice token on PostgreSQL', () => {
  const box = suiteSandboxes();

  it('add, list and revoke keep the tokens in the --spool directory, the classes checked against the schema', async () => {
    const sb = box();
    const url = await secretUrl();
    assert.equal((await runCli(['init', '--db', url])).code, 0);
    const spool = join(sb.dir, 'spool');
    const token = await addPgToken(url, spool, 'hr-feed', 'importer', '--classes', 'Person,Organization');
    assert.match(token, /^slu_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/);
    assert.ok(existsSync(join(spool, 'jobs.db')), 'the token is kept in the spool directory');

    // From the environment, as SLUICE_DB gives the database.
    const listed = await runCli(['token', 'list', '--format', 'json'], { env: { SLUICE_DB: url, SLUICE_SPOOL: spool } });
    assert.equal(listed.code, 0, listed.stderr);
    const tokens = JSON.parse(listed.stdout) as { name: string; role: string; classes: string[] | null; revokedAt: string | null }[];
    assert.deepEqual(tokens.map((t) => [t.name, t.role, t.classes, t.revokedAt]), [['hr-feed', 'importer', ['Person', 'Organization'], null]]);

    const unknown = await runCli(['token', 'add', '--db', url, '--spool', spool, '--name', 'bad', '--role', 'reader', '--classes', 'Person,Nope']);
    assert.equal(unknown.code, 2);
    assert.match(oneLine(unknown.stderr), /^sluice: unknown class "Nope" for --classes \(valid: Organization, /);

    const revoked = await runCli(['token', 'revoke', 'hr-feed', '--db', url, '--spool', spool]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, /^token hr-feed revoked \(\S+\)\n$/);
    const text = await runCli(['token', 'list', '--db', url, '--spool', spool]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^hr-feed {2}importer {2}Person, Organization {2}created \S+ {2}revoked \S+\n$/);
    for (const r of [listed, revoked, text]) assert.ok(!(r.stdout + r.stderr).includes(SECRET), 'the password is never printed');
  });

  it('--spool is required with a PostgreSQL URL; one that cannot hold the job table, or holds no tokens, is named', async () => {
    const sb = box();
    const url = await secretUrl();
    assert.equal((await runCli(['init', '--db', url])).code, 0);
    for (const args of [['serve', '--db', url, '--port', '0'], ['token', 'add', '--db', url, '--name', 'x', '--role', 'admin'], ['token', 'list', '--db', url]]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(oneLine(r.stderr), /^sluice: --spool is required with a PostgreSQL database \(--db postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/\w+\): the directory where sluice serve keeps its uploads, job logs, jobs and tokens; give sluice token the same one/);
    }
    const fromEnv = await runCli(['serve', '--port', '0'], { env: { SLUICE_DB: url } });
    assert.equal(fromEnv.code, 2);
    assert.match(oneLine(fromEnv.stderr), /^sluice: --spool is required with a PostgreSQL database \(--db \(SLUICE_DB\) postgres:\/\/postgres:\*\*\*@/);

    const file = sb.file('not-a-dir', 'x');
    const blocked = await runCli(['token', 'add', '--db', url, '--spool', file, '--name', 'x', '--role', 'admin']);
    assert.equal(blocked.code, 2);
    assert.match(oneLine(blocked.stderr), new RegExp(`^sluice: --spool: cannot open the job table in ${file}: `));

    const none = join(sb.dir, 'no-such-spool');
    for (const args of [['list'], ['revoke', 'x']]) {
      const r = await runCli(['token', ...args, '--db', url, '--spool', none]);
      assert.equal(r.code, 2);
      assert.match(oneLine(r.stderr), new RegExp(`^sluice: --spool: ${none} holds no tokens \\(it has no jobs\\.db\\); sluice token add creates them there`));
      assert.ok(!existsSync(none), 'nothing is created');
    }

    // On an SQLite file --spool is optional, and moves the spool from F.spool.
    const lite = join(sb.dir, 'lite-spool');
    assert.equal((await runCli(['init', '--db', sb.db])).code, 0);
    const t = await runCli(['token', 'add', '--db', sb.db, '--spool', lite, '--name', 'x', '--role', 'admin']);
    assert.equal(t.code, 0, t.stderr);
    assert.ok(existsSync(join(lite, 'jobs.db')) && !existsSync(`${sb.db}.spool`));
  });

  it('an unreachable database server or a missing schema stops serve and token add at once: one line, exit 2, the password masked', async () => {
    const sb = box();
    const spool = join(sb.dir, 'spool');
    const down = `postgres://postgres:${SECRET}@127.0.0.1:${await closedPort()}/cmdb`;
    for (const args of [['serve', '--port', '0'], ['token', 'add', '--name', 'x', '--role', 'admin']]) {
      const r = await runCli([...args, '--db', down, '--spool', spool]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(oneLine(r.stderr), /^sluice: --db: cannot connect to postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/cmdb: .*ECONNREFUSED/);
    }
    assert.ok(!existsSync(spool), 'a server that cannot start leaves no spool behind');

    const empty = await secretUrl();
    const r = await runCli(['serve', '--db', empty, '--spool', spool, '--port', '0']);
    assert.equal(r.code, 2);
    assert.match(oneLine(r.stderr), /^sluice: --db: postgres:\/\/postgres:\*\*\*@\S+ has no Sluice schema sluice \(sluice init --db creates one; \?schema=NAME names another\)$/);
  });
});

describe('sluice serve on PostgreSQL, beside sluice serve on SQLite', () => {
  const pause = join(suiteSandboxes()().dir, 'pause');
  // The PostgreSQL server stops after a chunk commit while the file `pause` exists (the tests that cancel or kill a running job make it).
  const pair = servePair(server, { SLUICE_TEST_PAUSE: `chunk-committed:${pause}` });
  let p: ServePair;
  before(async () => {
    p = await pair();
  });

  it('answers its health check, naming the database with its password masked', async () => {
    const r = await call(p.pg, '/v1/health');
    assert.equal(r.status, 200);
    assert.deepEqual(await json(r), { status: 'ok', queued: 0 });
    assert.match(p.pg.cli.stderrText(), /listening on http:\/\/127\.0\.0\.1:\d+ \(database postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/\w+, spool \S+pg-spool\)/);
  });

  it('an upload runs as on SQLite: the same state, the same log as CSV and as JSON, the same data', async () => {
    assert.equal((await p.job('/v1/import?class=Organization', csvBody(ORGS))).state.state, 'done');
    const people = await p.job('/v1/import?class=Person&keys=email&no-stop-on-error=1', csvBody(PEOPLE));
    assert.deepEqual(people.state, { state: 'done', results: { ...ZEROS, created: 2, errors: 1 }, logfile: '/v1/import/{token}/log' });
    const log = await (await call(p.pg, `/v1/import/${people.pg}/log`)).text();
    assert.match(log, /^line,status,id,message,name,first_name,org_id->name,email\n2,created,\d+,,Hugo,/);

    // All or nothing: a row error rolls the job back, naming the line.
    const rolled = await p.job('/v1/import?class=Person&keys=email', csvBody(PEOPLE.replace(/@x\.org/g, '@y.org')));
    assert.equal(rolled.state.state, 'error');
    assert.match(String(rolled.state.message), /^line 4: .*Nowhere/);

    const form = (): RequestInit => {
      const f = new FormData();
      f.set('class', 'Organization');
      f.set('separator', ';');
      f.set('comment', 'from the form');
      f.set('file', new Blob(['name;code\nFinance;F1\n']), 'orgs.csv');
      return { method: 'POST', body: f };
    };
    assert.equal((await p.job('/v1/import', form)).state.state, 'done');
    const body = JSON.stringify([{ name: 'Legal', code: 'L1' }]);
    assert.equal((await p.job('/v1/import?class=Organization', () => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body }))).state.state, 'done');
    const chunked = await p.job('/v1/import?class=Location&chunk-size=2', csvBody('name,org_id->name\nParis,Sales\nLyon,Sales\nNantes,Finance\n'));
    assert.deepEqual(chunked.state.results, { ...ZEROS, created: 3 });
    await p.data(['Organization', 'Person', 'Location']);
  });

  it('reads as on SQLite: exports, the classes, the changes and a preview, and their errors', async () => {
    for (const q of ['', '?format=json', '?format=tsv&columns=name,email,org_id->name', '?columns=nope']) await p.same(`/v1/export/Person${q}`);
    assert.equal((await p.same('/v1/export/Nope')).status, 404);
    await p.same('/v1/classes');
    const changes = await p.same('/v1/changes?limit=50', undefined, stableTimes);
    assert.equal((changes.body as { total: number }).total, p.last());
    const preview = await p.same('/v1/preview?class=Person&keys=email', csvBody(PEOPLE));
    assert.equal((preview.body as { class: string }).class, 'Person');
    assert.equal((await p.same('/v1/changes/99999/undo', () => ({ method: 'POST' }))).status, 404);
    const jobs = (await json(await call(p.pg, '/v1/jobs'))).jobs as { kind: string; state: string; class: string }[];
    assert.deepEqual(jobs.slice(0, 2).map((j) => [j.kind, j.state, j.class]), [['import', 'done', 'Location'], ['import', 'done', 'Organization']]);
  });

  it('an undo job runs as on SQLite: simulated, refused on a conflict, forced', async () => {
    assert.equal((await p.job('/v1/import?class=Organization', csvBody('name,code\nAcme,A1\nGlobex,G1\n'))).state.state, 'done');
    const change = p.last();
    const undo = (q: string): Promise<{ state: Record<string, unknown> }> => p.job(`/v1/changes/${change}/undo${q}`);
    assert.deepEqual((await undo('?simulate')).state, { state: 'done', results: { ...ZEROS, deleted: 2 } });
    assert.equal((await p.job('/v1/import?class=Organization', csvBody('name,code\nAcme,A9\n'))).state.state, 'done');
    const refused = (await undo('')).state;
    assert.equal(refused.state, 'error');
    assert.match(String(refused.message), new RegExp(`^undo of change ${change} refused: 1 conflict with later changes`));
    const forced = (await undo('?force=1&comment=cleanup')).state;
    assert.equal(forced.state, 'done');
    assert.deepEqual(forced.results, { ...ZEROS, deleted: 1, skipped: 1, errors: 1 });
    await p.data(['Organization']);
  });

  it('a bundle of files runs as one job and one change, as on SQLite; a failing file rolls every file back', async () => {
    const bundle = (files: Record<string, string>) => (): RequestInit => {
      const f = new FormData();
      f.append('comment', 'migration');
      for (const [name, content] of Object.entries(files)) f.append('file', new Blob([content], { type: 'text/csv' }), name);
      return { method: 'POST', body: f };
    };
    const ok = await p.job('/v1/import', bundle({ 'people.csv': 'name,email,org_id->name\nCurie,mc@x.org,Labs\n', 'orgs.csv': 'name,code\nLabs,LB1\n', 'bundle.json': JSON.stringify({ files: [{ file: 'people.csv', class: 'Person', keys: 'email' }, { file: 'orgs.csv', class: 'Organization' }] }) }));
    assert.deepEqual(ok.state, { state: 'done', results: { ...ZEROS, created: 2 }, logfile: '/v1/import/{token}/log' });
    const failed = await p.job('/v1/import', bundle({ 'Organization.csv': 'name,code\nOptics,O1\n', 'Person.csv': 'name,email,org_id->name\nBohr,nb@x.org,Nowhere\n' }));
    assert.equal(failed.state.state, 'error');
    assert.match(String(failed.state.message), /^Person\.csv: line 2: .*Nowhere/);
    await p.data(['Organization', 'Person']);
  });

  it('a job waits while another connection holds the writer lock; a cancel reaches it there; it runs once the lock is free', async () => {
    const holder = new pg.Client({ connectionString: p.url });
    holder.on('error', () => undefined);
    await holder.connect();
    const key = [writerLockKey('sluice').toString()];
    let waiting: string;
    try {
      await holder.query('SELECT pg_advisory_lock($1::bigint)', key);
      const cancelled = await tokenOf(await postCsv(p.pg, 'class=Organization', 'name\nNever\n'));
      await until(p.pg, cancelled, (st) => st.state === 'processing');
      assert.deepEqual(await state(p.pg, cancelled), { state: 'processing', line: 0, results: ZEROS });
      assert.deepEqual(await json(await call(p.pg, `/v1/import/${cancelled}`, { method: 'DELETE' })), { state: 'cancelling' });
      // The lock is still held: the cancel ended the wait, not the lock.
      assert.deepEqual(await until(p.pg, cancelled, finished), { state: 'error', message: 'interrupted before it started; nothing was written', results: ZEROS });

      waiting = await tokenOf(await postCsv(p.pg, 'class=Organization&comment=after the lock', 'name,code\nPatient,P1\n'));
      await until(p.pg, waiting, (st) => st.state === 'processing');
      assert.deepEqual(await state(p.pg, waiting), { state: 'processing', line: 0, results: ZEROS });
    } finally {
      await holder.query('SELECT pg_advisory_unlock($1::bigint)', key).catch(() => undefined);
      await holder.end();
    }
    assert.deepEqual(await until(p.pg, waiting, finished), { state: 'done', results: { ...ZEROS, created: 1 }, logfile: `/v1/import/${waiting}/log` });
    // The same upload on SQLite, for both to hold the same data again.
    assert.equal((await until(p.lite, await tokenOf(await postCsv(p.lite, 'class=Organization&comment=after the lock', 'name,code\nPatient,P1\n')), finished)).state, 'done');
    await p.data(['Organization']);
  });

  it("a data source's feeds run as on SQLite: the same states, logs, data and replicas", async () => {
    for (const db of [p.sb.db, p.url]) {
      const r = await runCli(['source', 'add', '--db', db, '--name', 'hr', '--class', 'Person', '--keys', 'email', '--delete-policy', 'update', '--delete-update', 'status=inactive']);
      assert.equal(r.code, 0, r.stderr);
    }
    const feed = (rows: string[]): (() => RequestInit) => csvBody(['source_id,name,first_name,org_id->name,email', ...rows].join('\n') + '\n');
    const first = await p.job('/v1/sources/hr/sync', feed(['1,Ada,Lovelace,Sales,al@hr.org', '2,Bell,Alexander,Sales,ab@hr.org', '3,Curie,Marie,Marketing,mc@hr.org']));
    assert.deepEqual(first.state.results, { ...ZEROS, created: 3 }, JSON.stringify(first.state));
    // One changed, one gone (policy update: status=inactive), one new.
    const second = await p.job('/v1/sources/hr/sync', feed(['1,Ada,Augusta,Sales,al@hr.org', '3,Curie,Marie,Marketing,mc@hr.org', '4,Darwin,Charles,Sales,cd@hr.org']));
    assert.equal(second.state.state, 'done');
    assert.deepEqual(second.state.results, { ...ZEROS, created: 1, updated: 1, unchanged: 1 }, JSON.stringify(second.state));
    // The absent one was given the delete policy's values (data() then finds the same on PostgreSQL).
    assert.deepEqual(query(p.sb.db, "SELECT status FROM Person WHERE email = 'ab@hr.org'"), [{ status: 'inactive' }]);
    const missing = await p.same('/v1/sources/nope/sync', () => ({ method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'name\nA\n' }));
    assert.equal(missing.status, 404);
    await p.data(['Person']);
    const shown = await Promise.all([p.sb.db, p.url].map((db) => runCli(['source', 'show', 'hr', '--db', db, '--format', 'json'])));
    assert.equal(stableTimes(shown[1]?.stdout ?? ''), stableTimes(shown[0]?.stdout ?? ''), 'the source, its replicas and its syncs');
  });

  it('cancelling a job in the middle of its rows rolls back its open chunk; the chunk it committed stays', async () => {
    writeFileSync(pause, '');
    try {
      const rows = Array.from({ length: 6 }, (_, i) => `Cut${i},C${i}`).join('\n');
      const token = await tokenOf(await postCsv(p.pg, 'class=Organization&chunk-size=4', `name,code\n${rows}\n`));
      await waitFor('the job to commit its first chunk', () => existsSync(`${pause}.reached`), 30_000);
      assert.deepEqual(await json(await call(p.pg, `/v1/import/${token}`, { method: 'DELETE' })), { state: 'cancelling' });
      rmSync(pause);
      const st = await until(p.pg, token, finished);
      assert.equal(st.state, 'error');
      assert.match(String(st.message), /^interrupted after line \d+; committed up to line 5, the rest was rolled back$/);
    } finally {
      rmSync(pause, { force: true });
      rmSync(`${pause}.reached`, { force: true });
    }
    const exported = await runCli(['export', '--db', p.url, '--class', 'Organization', '--columns', 'name']);
    assert.deepEqual(exported.stdout.split('\n').filter((l) => l.startsWith('Cut')), ['Cut0', 'Cut1', 'Cut2', 'Cut3']);
  });

  it('a server killed in the middle of a job: the next start reports it interrupted, naming the rows its committed chunks kept', async () => {
    const before = p.last();
    writeFileSync(pause, '');
    const rows = Array.from({ length: 6 }, (_, i) => `Kill${i},K${i}`).join('\n');
    const token = await tokenOf(await postCsv(p.pg, 'class=Organization&chunk-size=4', `name,code\n${rows}\n`));
    await waitFor('the job to commit its first chunk', () => existsSync(`${pause}.reached`), 30_000);
    p.pg.cli.child.kill('SIGKILL');
    await p.pg.cli.done;
    rmSync(pause);
    await p.restartPg();
    assert.deepEqual(await until(p.pg, token, finished), {
      state: 'error',
      message: 'interrupted: the server stopped while this job was processing; its first 4 rows were committed (--chunk-size), the rest rolled back',
      results: { ...ZEROS, created: 4 },
    });
    const exported = await runCli(['export', '--db', p.url, '--class', 'Organization', '--columns', 'name']);
    assert.deepEqual(exported.stdout.split('\n').filter((l) => l.startsWith('Kill')), ['Kill0', 'Kill1', 'Kill2', 'Kill3']);
    assert.equal(before, p.last(), 'the SQLite side saw none of it');
  });

  it('no answer, server log or job table shows the password', async () => {
    const log = p.pg.cli.stderrText();
    assert.match(log, /postgres:\/\/postgres:\*\*\*@/);
    assert.ok(!log.includes(SECRET));
    const rows = query<Record<string, unknown>>(join(p.spool, 'jobs.db'), 'SELECT * FROM _sluice_job');
    assert.ok(rows.length > 10);
    assert.ok(!JSON.stringify(rows).includes(SECRET), 'the job table keeps no password');
  });
});
