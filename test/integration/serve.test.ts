/**
 * `sluice serve` (SPEC §6): the built CLI as a server on a free port, driven with fetch.
 * A test that needs a job to stay busy takes the database's write lock itself (a connection
 * in BEGIN IMMEDIATE): the job then waits for it however fast it would run, so nothing here
 * depends on how long an import takes; every wait is a bounded poll.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { query, runCli, suiteSandboxes, type Sandbox } from '../helpers/cli.js';
import { type Server, call, finished, freshDb, holdWriteLock, json, postCsv, serve, serveWithEnv, state, stop, tokenOf, until, uploads } from '../helpers/serve.js';

const ORGS = 'name,code\nSales,S1\nMarketing,M1\n';
const PEOPLE = 'name,first_name,org_id->name,email\nHugo,Victor,Sales,vh@x.org\nSand,George,Marketing,gs@x.org\nZola,Emile,Nowhere,ez@x.org\n';

/** Wait until the server's writer stops at the pause point SLUICE_TEST_PAUSE names (it writes FILE.reached). */
async function pausedAt(pause: string): Promise<void> {
  const end = Date.now() + 30_000;
  while (!existsSync(`${pause}.reached`)) {
    assert.ok(Date.now() < end, 'the job never committed its first chunk');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('sluice serve', () => {
  const box = suiteSandboxes();

  describe('one server', () => {
    let sb: Sandbox;
    let s: Server;
    before(async () => {
      sb = box();
      await freshDb(sb);
      s = await serve(sb.db);
    });
    after(async () => stop(s));

    it('answers its health check', async () => {
      const r = await call(s, `/v1/health`);
      assert.equal(r.status, 200);
      assert.equal((await json(r)).status, 'ok');
    });

    it('a raw CSV upload runs as `sluice import` does: same results, same details table', async () => {
      const orgs = await tokenOf(await postCsv(s, 'class=Organization', ORGS));
      assert.equal((await until(s, orgs, finished)).state, 'done');
      const token = await tokenOf(await postCsv(s, 'class=Person&keys=email&no-stop-on-error=1', PEOPLE));
      const st = await until(s, token, finished);
      assert.deepEqual(st, {
        state: 'done',
        results: { created: 2, updated: 0, deleted: 0, unchanged: 0, skipped: 0, errors: 1 },
        logfile: `/v1/import/${token}/log`,
      });

      // The same two files through the CLI, into a database of their own.
      const other = box();
      await freshDb(other);
      assert.equal((await runCli(['import', '--db', other.db, '--class', 'Organization', '--file', other.file('orgs.csv', ORGS), '--progress', 'none'])).code, 0);
      const log = `${other.dir}/people.log`;
      const cli = await runCli(['import', '--db', other.db, '--class', 'Person', '--keys', 'email', '--no-stop-on-error', '--file', other.file('people.csv', PEOPLE), '--progress', 'none', '--output', 'json', '--log', log]);
      assert.equal(cli.code, 1, cli.stderr);
      const doc = JSON.parse(cli.stdout) as Record<string, unknown>;
      for (const k of ['created', 'updated', 'deleted', 'unchanged', 'skipped', 'errors']) assert.equal((st.results as Record<string, unknown>)[k], doc[k], k);

      const table = await call(s, `/v1/import/${token}/log`);
      assert.equal(table.status, 200);
      assert.match(table.headers.get('content-type') ?? '', /^text\/csv/);
      assert.equal(await table.text(), readFileSync(log, 'utf8'));

      const asJson = await json(await call(s, `/v1/import/${token}/log?format=json`));
      assert.equal(asJson.created, 2);
      assert.deepEqual((asJson.rows as { line: number; status: string }[]).map((r) => `${r.line}:${r.status}`), ['2:created', '3:created', '4:error']);
      assert.equal(query<{ n: number }>(sb.db, "SELECT count(*) AS n FROM Person WHERE email LIKE '%@x.org'")[0]?.n, 2);
      assert.deepEqual(uploads(sb.db), [], 'the upload is removed once its job has run');
      const kept = query<{ bytes: number; sha256: string; exit_code: number; file_name: string }>(`${sb.db}.spool/jobs.db`, 'SELECT bytes, sha256, exit_code, file_name FROM _sluice_job WHERE token = ?', token)[0];
      assert.deepEqual(kept, { bytes: Buffer.byteLength(PEOPLE), sha256: createHash('sha256').update(PEOPLE).digest('hex'), exit_code: 1, file_name: 'upload' });
    });

    it('a row error in all-or-nothing mode ends the job in error, rolled back, naming the line', async () => {
      const token = await tokenOf(await postCsv(s, 'class=Person&keys=email', PEOPLE.replace(/@x\.org/g, '@y.org')));
      const st = await until(s, token, finished);
      assert.equal(st.state, 'error');
      assert.match(String(st.message), /^line 4: .*Nowhere/);
      assert.deepEqual(st.results, { created: 0, updated: 0, deleted: 0, unchanged: 0, skipped: 0, errors: 1 });
      assert.equal(st.logfile, `/v1/import/${token}/log`);
      assert.equal(query<{ n: number }>(sb.db, "SELECT count(*) AS n FROM Person WHERE email LIKE '%@y.org'")[0]?.n, 0);
    });

    it('a multipart upload carries the options as fields', async () => {
      const form = new FormData();
      form.set('class', 'Organization');
      form.set('simulate', '1');
      form.set('separator', ';');
      form.set('comment', 'from the form');
      form.set('file', new Blob(['name;code\nFinance;F1\n']), 'orgs.csv');
      const token = await tokenOf(await call(s, `/v1/import`, { method: 'POST', body: form }));
      const st = await until(s, token, finished);
      assert.deepEqual(st.results, { created: 1, updated: 0, deleted: 0, unchanged: 0, skipped: 0, errors: 0 });
      assert.equal(query<{ n: number }>(sb.db, "SELECT count(*) AS n FROM Organization WHERE name = 'Finance'")[0]?.n, 0, 'simulated: nothing kept');
    });

    it('a form may give the file before its options, and the class as "type"', async () => {
      const form = new FormData();
      form.set('file', new Blob(['name,code\nHR,H1\n']), 'orgs.csv');
      form.set('type', 'Organization');
      form.set('comment', 'file first');
      const token = await tokenOf(await call(s, `/v1/import`, { method: 'POST', body: form }));
      assert.equal((await until(s, token, finished)).state, 'done');
      assert.deepEqual(query<{ comment: string; file: string }>(sb.db, "SELECT comment, file FROM _sluice_change WHERE comment = 'file first'"), [{ comment: 'file first', file: 'orgs.csv' }]);
    });

    it('a JSON body is read as JSON', async () => {
      const r = await call(s, `/v1/import?class=Organization`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ name: 'Legal', code: 'L1' }]) });
      const st = await until(s, await tokenOf(r), finished);
      assert.equal(st.state, 'done', JSON.stringify(st));
      assert.equal(query<{ n: number }>(sb.db, "SELECT count(*) AS n FROM Organization WHERE name = 'Legal'")[0]?.n, 1);
    });

    it('a bad option is a 400 that names it and what would be valid', async () => {
      const bad = await postCsv(s, 'class=Person&action=merge', PEOPLE);
      assert.equal(bad.status, 400);
      const e = (await json(bad)).error as { code: string; message: string };
      assert.equal(e.code, 'E_USAGE');
      assert.match(e.message, /--action: "merge" is not valid \(valid: upsert, insert, update, delete\)/);

      const unknown = (await json(await postCsv(s, 'class=Person&bogus=1', PEOPLE))).error as { message: string };
      assert.match(unknown.message, /unknown option --bogus \(valid: --class, /);
      const cls = await postCsv(s, 'class=Persn', PEOPLE);
      assert.equal(cls.status, 400);
      assert.match(((await json(cls)).error as { message: string }).message, /Persn/);
      const server = await postCsv(s, 'class=Person&db=/tmp/other.db', PEOPLE);
      assert.equal(server.status, 400);
      assert.match(((await json(server)).error as { message: string }).message, /--db/);
      const none = await postCsv(s, '', PEOPLE);
      assert.match(((await json(none)).error as { message: string }).message, /--class: is required/);
      assert.deepEqual(uploads(sb.db), []);
    });

    it('an unknown token is a 404 in JSON, for the state, the log and a cancel', async () => {
      for (const [method, path] of [['GET', '/v1/import/0123456789abcdef0123456789abcdef'], ['GET', '/v1/import/nope/log'], ['DELETE', '/v1/import/nope'], ['GET', '/v1/nothing']] as const) {
        const r = await call(s, `${path}`, { method });
        assert.equal(r.status, 404, `${method} ${path}`);
        assert.equal(((await json(r)).error as { code: string }).code, 'E_NOT_FOUND');
      }
    });

    it('a second server on the same database is refused', async () => {
      const r = await runCli(['serve', '--db', sb.db, '--port', '0']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /another sluice serve \(process \d+ .*\) serves .*; stop it first/);
    });

    it('a feed posted to a data source is synced as `sluice sync` does', async () => {
      const add = await runCli(['source', 'add', '--db', sb.db, '--name', 'crm', '--class', 'Organization', '--keys', 'name']);
      assert.equal(add.code, 0, add.stderr);
      const feed = 'source_id,name,code\nc1,Acme,A1\nc2,Globex,G1\n';
      const r = await call(s, `/v1/sources/crm/sync?comment=nightly`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: feed });
      const st = await until(s, await tokenOf(r), finished);
      assert.deepEqual(st.results, { created: 2, updated: 0, deleted: 0, unchanged: 0, skipped: 0, errors: 0 }, JSON.stringify(st));
      assert.equal(query<{ n: number }>(sb.db, "SELECT count(*) AS n FROM _sluice_replica WHERE record IN ('c1', 'c2') AND object_id IS NOT NULL")[0]?.n, 2);

      // Undone as any change: the organizations and the replicas go.
      const change = query<{ id: number }>(sb.db, "SELECT max(id) AS id FROM _sluice_change WHERE action = 'sync crm'")[0]?.id as number;
      const undone = await until(s, await tokenOf(await call(s, `/v1/changes/${change}/undo`, { method: 'POST' })), finished);
      assert.deepEqual(undone.results, { created: 0, updated: 0, deleted: 2, unchanged: 0, skipped: 0, errors: 0 }, JSON.stringify(undone));
      assert.deepEqual(query(sb.db, "SELECT count(*) AS n FROM _sluice_replica WHERE record IN ('c1', 'c2')"), [{ n: 0 }]);
      assert.deepEqual(query(sb.db, "SELECT count(*) AS n FROM Organization WHERE name IN ('Acme', 'Globex')"), [{ n: 0 }]);

      const unknown = await call(s, `/v1/sources/nope/sync`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: feed });
      assert.equal(unknown.status, 404);
      assert.match(((await json(unknown)).error as { message: string }).message, /no data source named "nope" \(valid: crm\)/);
      const cls = await call(s, `/v1/sources/crm/sync?class=Person`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: feed });
      assert.equal(cls.status, 400);
      assert.match(((await json(cls)).error as { message: string }).message, /unknown option --class \(valid: /);
    });
  });

  it('an upload over --max-upload is a 413, and its spool is removed', async () => {
    const sb = box();
    await freshDb(sb);
    const s = await serve(sb.db, '--max-upload', '1KB');
    try {
      const big = 'name,code\n' + Array.from({ length: 200 }, (_, i) => `Org${i},C${i}`).join('\n') + '\n';
      for (const r of [
        await postCsv(s, 'class=Organization', big),
        await call(s, `/v1/import`, { method: 'POST', body: multipart(big) }),
      ]) {
        assert.equal(r.status, 413);
        const e = (await json(r)).error as { code: string; message: string };
        assert.equal(e.code, 'E_TOO_LARGE');
        assert.match(e.message, /--max-upload/);
      }
      // A chunked body has no length to refuse up front: it is cut while it streams.
      const streamed = await call(s, `/v1/import?class=Organization`, {
        method: 'POST',
        headers: { 'content-type': 'text/csv' },
        body: new ReadableStream({ start: (c) => { c.enqueue(new TextEncoder().encode(big)); c.close(); } }),
        duplex: 'half',
      } as RequestInit);
      assert.equal(streamed.status, 413);
      assert.deepEqual(uploads(sb.db), []);
      assert.equal((await call(s, `/v1/health`)).status, 200);
    } finally {
      await stop(s);
    }
  });

  it('a full queue answers 429 with Retry-After; a queued job can be removed', async () => {
    const sb = box();
    await freshDb(sb);
    const s = await serve(sb.db, '--max-queue', '1');
    const lock = holdWriteLock(sb.db);
    try {
      const first = await tokenOf(await postCsv(s, 'class=Organization', 'name\nA\n'));
      await until(s, first, (st) => st.state === 'processing');
      const second = await tokenOf(await postCsv(s, 'class=Organization', 'name\nB\n'));
      assert.deepEqual(await state(s, second), { state: 'queued' });
      const full = await postCsv(s, 'class=Organization', 'name\nC\n');
      assert.equal(full.status, 429);
      assert.match(full.headers.get('retry-after') ?? '', /^\d+$/);
      assert.equal(((await json(full)).error as { code: string }).code, 'E_QUEUE_FULL');
      assert.equal(uploads(sb.db).length, 2, 'the refused upload left nothing');

      const del = await call(s, `/v1/import/${second}`, { method: 'DELETE' });
      assert.equal(del.status, 200);
      assert.equal((await state(s, second)).state, undefined);
      assert.equal((await call(s, `/v1/import/${second}`)).status, 404);
      assert.equal(uploads(sb.db).length, 1);
      const third = await tokenOf(await postCsv(s, 'class=Organization', 'name\nD\n'));

      lock.release();
      assert.equal((await until(s, first, finished)).state, 'done');
      assert.equal((await until(s, third, finished)).state, 'done');
      assert.deepEqual(query<{ name: string }>(sb.db, "SELECT name FROM Organization WHERE name IN ('A', 'B', 'C', 'D') ORDER BY name").map((r) => r.name), ['A', 'D']);
    } finally {
      lock.release();
      await stop(s);
    }
  });

  it('cancelling a processing job (waiting for the write lock) ends it in error, interrupted, with nothing written', async () => {
    const sb = box();
    await freshDb(sb);
    const s = await serve(sb.db);
    const lock = holdWriteLock(sb.db);
    try {
      const token = await tokenOf(await postCsv(s, 'class=Organization', 'name\nE\n'));
      await until(s, token, (st) => st.state === 'processing');
      assert.deepEqual(await state(s, token), { state: 'processing', line: 0, results: { created: 0, updated: 0, deleted: 0, unchanged: 0, skipped: 0, errors: 0 } });
      assert.equal((await call(s, `/v1/import/${token}`, { method: 'DELETE' })).status, 200);
      const st = await until(s, token, finished);
      assert.equal(st.state, 'error');
      assert.match(String(st.message), /interrupted/);
      assert.deepEqual(st.results, { created: 0, updated: 0, deleted: 0, unchanged: 0, skipped: 0, errors: 0 });
    } finally {
      lock.release();
      await stop(s);
    }
    assert.equal(query<{ n: number }>(sb.db, "SELECT count(*) AS n FROM Organization WHERE name = 'E'")[0]?.n, 0);
  });

  it('cancelling a job in the middle of its rows rolls back its open chunk; the chunks it committed stay', async () => {
    const sb = box();
    await freshDb(sb);
    // The writer stops after its first chunk commit, for as long as the pause file exists.
    const pause = sb.file('pause', '');
    const s = await serveWithEnv(sb.db, { SLUICE_TEST_PAUSE: `chunk-committed:${pause}` });
    try {
      // Rows of 30 KB: the first frame holds three (64 KiB each), so those three have been
      // acknowledged when the writer pauses inside the second, and the job's state counts them.
      const address = 'x'.repeat(30_000);
      const rows = Array.from({ length: 6 }, (_, i) => `Loc${i},${address}`).join('\n');
      const token = await tokenOf(await postCsv(s, 'class=Location&chunk-size=4', `name,address\n${rows}\n`));
      await pausedAt(pause);
      const live = await until(s, token, (st) => st.state === 'processing' && (st.results as { created: number }).created >= 3);
      assert.deepEqual(live, { state: 'processing', line: 4, results: { created: 3, updated: 0, deleted: 0, unchanged: 0, skipped: 0, errors: 0 } });
      assert.deepEqual(await json(await call(s, `/v1/import/${token}`, { method: 'DELETE' })), { state: 'cancelling' });
      rmSync(pause);
      const st = await until(s, token, finished);
      assert.equal(st.state, 'error');
      const m = /^interrupted after line \d+; committed up to line (\d+), the rest was rolled back$/.exec(String(st.message));
      assert.ok(m, String(st.message));
      // The first chunk (lines 2 to 5) was committed before the cancel; the last two rows, in the open chunk, were not.
      const committedLine = Number(m[1]);
      assert.equal(committedLine, 5);
      // What the report says was committed is what the database holds: the rows up to that line.
      const kept = query<{ name: string }>(sb.db, "SELECT name FROM Location WHERE name LIKE 'Loc%' ORDER BY id").map((r) => r.name);
      assert.deepEqual(kept, Array.from({ length: committedLine - 1 }, (_, i) => `Loc${i}`));
    } finally {
      rmSync(pause, { force: true });
      await stop(s);
    }
  });

  it('POST /v1/changes/{n}/undo queues an undo, polled as a job: simulated, done, refused on a conflict', async () => {
    const sb = box();
    await freshDb(sb);
    const s = await serve(sb.db);
    try {
      assert.equal((await until(s, await tokenOf(await postCsv(s, 'class=Organization', ORGS)), finished)).state, 'done');
      const orgs = query<{ id: number }>(sb.db, 'SELECT max(id) AS id FROM _sluice_change')[0]?.id as number;
      const undo = async (q: string): Promise<Record<string, unknown>> => until(s, await tokenOf(await call(s, `/v1/changes/${orgs}/undo${q}`, { method: 'POST' })), finished);

      assert.deepEqual(await undo('?simulate'), { state: 'done', results: { created: 0, updated: 0, deleted: 2, unchanged: 0, skipped: 0, errors: 0 } });
      assert.equal(query<{ n: number }>(sb.db, "SELECT count(*) AS n FROM Organization WHERE name IN ('Sales', 'Marketing')")[0]?.n, 2, 'simulated: nothing undone');

      // A later change of Sales conflicts: the undo is refused, naming it.
      assert.equal((await until(s, await tokenOf(await postCsv(s, 'class=Organization', 'name,code\nSales,S9\n')), finished)).state, 'done');
      const refused = await undo('');
      assert.equal(refused.state, 'error');
      assert.match(String(refused.message), new RegExp(`^undo of change ${orgs} refused: 1 conflict with later changes, nothing written \\(force=1 reverts the rest\\): Organization \\d+ code: a later change set it to "S9"`));
      const forced = await undo('?force=1&comment=cleanup');
      assert.equal(forced.state, 'done');
      assert.deepEqual(forced.results, { created: 0, updated: 0, deleted: 1, unchanged: 0, skipped: 1, errors: 1 });
      assert.deepEqual(query<{ name: string }>(sb.db, "SELECT name FROM Organization WHERE name IN ('Sales', 'Marketing')").map((r) => r.name), ['Sales']);
      assert.equal(query<{ n: number }>(sb.db, "SELECT count(*) AS n FROM _sluice_change WHERE comment = 'cleanup'")[0]?.n, 1);

      const again = await undo('');
      assert.match(String(again.message), new RegExp(`change ${orgs} was undone by change \\d+`));
      const bad = await call(s, '/v1/changes/x1/undo', { method: 'POST' });
      assert.equal(bad.status, 400);
      assert.equal((await call(s, '/v1/changes/999/undo', { method: 'POST' })).status, 404);
      assert.equal((await call(s, `/v1/changes/${orgs}/undo?bogus=1`, { method: 'POST' })).status, 400);
    } finally {
      await stop(s);
    }
  });

  it('after a restart, a queued job runs and the job the server died in reports "interrupted"', async () => {
    const sb = box();
    await freshDb(sb);
    const s1 = await serve(sb.db);
    const lock = holdWriteLock(sb.db);
    let stuck: string;
    let waiting: string;
    try {
      stuck = await tokenOf(await postCsv(s1, 'class=Organization', 'name\nF\n'));
      await until(s1, stuck, (st) => st.state === 'processing');
      waiting = await tokenOf(await postCsv(s1, 'class=Organization', 'name\nG\n'));
      s1.cli.child.kill('SIGKILL');
      await s1.cli.done;
    } finally {
      lock.release();
    }
    // An upload the server was receiving when it died.
    writeFileSync(`${sb.db}.spool/0123456789abcdef0123456789abcdef.upload`, 'name\nPartial');
    const s2 = await serve(sb.db);
    try {
      const a = await until(s2, stuck, finished);
      assert.equal(a.state, 'error');
      assert.match(String(a.message), /interrupted/);
      assert.equal((await until(s2, waiting, finished)).state, 'done');
      assert.deepEqual(query<{ name: string }>(sb.db, "SELECT name FROM Organization WHERE name IN ('F', 'G')").map((r) => r.name), ['G']);
      assert.deepEqual(uploads(sb.db), []);
    } finally {
      await stop(s2);
    }
  });

  it('a server killed in the middle of a job: the next start reports it interrupted, naming the rows its committed chunks kept', async () => {
    const sb = box();
    await freshDb(sb);
    const pause = sb.file('pause', '');
    const s1 = await serveWithEnv(sb.db, { SLUICE_TEST_PAUSE: `chunk-committed:${pause}` });
    const rows = Array.from({ length: 6 }, (_, i) => `Kill${i},K${i}`).join('\n');
    const token = await tokenOf(await postCsv(s1, 'class=Organization&chunk-size=4', `name,code\n${rows}\n`));
    await pausedAt(pause);
    s1.cli.child.kill('SIGKILL');
    await s1.cli.done;
    rmSync(pause);
    const s2 = await serve(sb.db);
    try {
      const st = await until(s2, token, finished);
      assert.deepEqual(st, {
        state: 'error',
        message: 'interrupted: the server stopped while this job was processing; its first 4 rows were committed (--chunk-size), the rest rolled back',
        results: { created: 4, updated: 0, deleted: 0, unchanged: 0, skipped: 0, errors: 0 },
      });
      assert.deepEqual(
        query<{ name: string }>(sb.db, "SELECT name FROM Organization WHERE name LIKE 'Kill%' ORDER BY id").map((r) => r.name),
        ['Kill0', 'Kill1', 'Kill2', 'Kill3'],
      );
      assert.deepEqual(query<{ integrity_check: string }>(sb.db, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
    } finally {
      await stop(s2);
    }
  });

  it('SIGTERM stops the server cleanly (exit 0), cancelling the job it runs', async () => {
    const sb = box();
    await freshDb(sb);
    const s = await serve(sb.db);
    const lock = holdWriteLock(sb.db);
    try {
      const token = await tokenOf(await postCsv(s, 'class=Organization', 'name\nH\n'));
      await until(s, token, (st) => st.state === 'processing');
      s.cli.child.kill('SIGTERM');
      const r = await s.cli.done;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /stopped/);
    } finally {
      lock.release();
    }
  });

  it('--help lists the options', async () => {
    const r = await runCli(['serve', '--help']);
    assert.equal(r.code, 0);
    for (const o of ['--db', '--host', '--port', '--max-upload', '--max-queue']) assert.match(r.stdout, new RegExp(o));
    const bad = await runCli(['serve', '--max-upload', 'lots']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--max-upload: "lots" is not valid/);
  });
});

function multipart(content: string): FormData {
  const form = new FormData();
  form.set('class', 'Organization');
  form.set('file', new Blob([content]), 'orgs.csv');
  return form;
}
