/**
 * `sluice serve` on a PostgreSQL schema beside `sluice serve` on an SQLite file, driven with
 * the same requests: a job is queued on both, polled on both to its end, and must end in the
 * same state with the same log (CSV and JSON); read back by `sluice export`, `sluice changes`
 * and `sluice history`, the two stores must then hold the same data, as test/helpers/pg-pair.ts
 * compares CLI runs. No answer, no output of a command and no server log may show the password.
 *
 * Usage, in a describe block of a file that called usePostgres():
 *   const pair = servePair(server);
 *   before(async () => (p = await pair()));
 *   it('…', async () => { await p.job('/v1/import?class=Organization', () => csvBody(ORGS)); await p.data(['Organization']); });
 */
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { join } from 'node:path';
import { type CliResult, type Sandbox, query, runCli, sandbox, startCli } from './cli.js';
import { apiChecker } from './openapi.js';
import { SECRET, WITH_IDS, stable, stableTimes } from './pg-pair.js';
import type { PgServer } from './postgres.js';
import { type Server, call, finished, serve, stop, tokenOf, until } from './serve.js';

/** A new token on the PostgreSQL server's spool, as `sluice token add` prints it. */
export async function addPgToken(url: string, spool: string, name: string, role: string, ...args: string[]): Promise<string> {
  const r = await runCli(['token', 'add', '--db', url, '--spool', spool, '--name', name, '--role', role, ...args]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stderr.includes(SECRET), 'the password is never printed');
  return r.stdout.trim();
}

/** `sluice serve --db URL --spool DIR` on a free port, sending `token` (an admin's). */
export async function servePg(url: string, spool: string, token: string, env: Record<string, string> = {}, ...args: string[]): Promise<Server> {
  const cli = startCli(['serve', '--db', url, '--spool', spool, '--port', '0', ...args], { env });
  await cli.stderrMatches(/listening on http:\/\/\S+ /);
  const address = /listening on (http:\/\/\S+) /.exec(cli.stderrText())?.[1] as string;
  const doc = await fetch(`${address}/v1/openapi.json`);
  assert.equal(doc.status, 200);
  return { url: address, cli, token, api: apiChecker((await doc.json()) as Record<string, unknown>) };
}

/** A job's token where an answer shows it (its log's path), so that two servers' answers compare. */
function withoutToken(text: string, token: string): string {
  return text.split(token).join('{token}');
}

export interface JobPair {
  /** PostgreSQL's job token, and SQLite's */
  pg: string;
  lite: string;
  /** the state both ended in (PostgreSQL's, its token written {token}) */
  state: Record<string, unknown>;
}

export interface ServePair {
  sb: Sandbox;
  /** the PostgreSQL URL, with a password (SECRET) */
  url: string;
  spool: string;
  lite: Server;
  pg: Server;
  /** The same request to both servers: the same status and body; returns PostgreSQL's answer, parsed when JSON. */
  same(path: string, init?: () => RequestInit, normalize?: (text: string) => string): Promise<{ status: number; body: unknown }>;
  /**
   * The same job on both (queued by the request `init` makes, fresh for each server), polled to
   * its end: the same state, and when it kept one the same log, as CSV and as JSON.
   */
  job(path: string, init?: () => RequestInit): Promise<JobPair>;
  /** The classes given exported the same (with their ids too), every change record the same, and the histories of the changes since the last call, by the CLI. */
  data(classes: readonly string[]): Promise<void>;
  /** the id of the last change (SQLite's; data() checks PostgreSQL's is the same) */
  last(): number;
  /** Stop the PostgreSQL server (unless it has ended) and start it again on the same spool (env: its environment, default the first's). */
  restartPg(env?: Record<string, string>): Promise<void>;
}

/** A raw CSV upload's request. */
export function csvBody(body: string): () => RequestInit {
  return () => ({ method: 'POST', headers: { 'content-type': 'text/csv' }, body });
}

/**
 * The pair of servers of a suite: an SQLite file and a PostgreSQL schema made by `sluice init`,
 * each served (the PostgreSQL one with `pgEnv` in its environment); both stopped when the
 * suite ends. Call in a describe block.
 */
export function servePair(server: () => PgServer, pgEnv: Record<string, string> = {}): () => Promise<ServePair> {
  let made: ServePair | null = null;
  let sb: Sandbox | null = null;
  after(async () => {
    if (made) await Promise.all([stop(made.lite), stop(made.pg)]);
    sb?.cleanup();
  });
  return async () => {
    sb = sandbox();
    const box = sb;
    const url = (await server().freshDatabase()).replace('postgres@', `postgres:${SECRET}@`);
    const spool = join(box.dir, 'pg-spool');
    for (const db of [box.db, url]) {
      const r = await runCli(['init', '--db', db]);
      assert.equal(r.code, 0, r.stderr);
    }
    const token = await addPgToken(url, spool, 'test-admin', 'admin');
    const [lite, pg] = await Promise.all([serve(box.db), servePg(url, spool, token, pgEnv)]);
    /** the changes whose histories data() has compared */
    let compared = 0;
    const onBoth = (args: string[]): Promise<CliResult[]> => Promise.all([runCli([...args, '--db', box.db]), runCli([...args, '--db', url])]);
    const p: ServePair = {
      sb: box,
      url,
      spool,
      lite,
      pg,
      async same(path, init = () => ({}), normalize = (t) => t) {
        const [a, b] = await Promise.all([call(lite, path, init()), call(p.pg, path, init())]);
        const [ta, tb] = await Promise.all([a.text(), b.text()]);
        assert.equal(b.status, a.status, `${path}: PostgreSQL answered ${b.status} ${tb}, SQLite ${a.status} ${ta}`);
        assert.equal(normalize(tb), normalize(ta), `the answers to ${path}`);
        assert.ok(!tb.includes(SECRET), 'no answer shows the password');
        return { status: b.status, body: /json/.test(b.headers.get('content-type') ?? '') ? JSON.parse(tb) : tb };
      },
      async job(path, init = () => ({ method: 'POST' })) {
        const [tl, tp] = await Promise.all([tokenOf(await call(lite, path, init())), tokenOf(await call(p.pg, path, init()))]);
        const [sl, sp] = await Promise.all([until(lite, tl, finished), until(p.pg, tp, finished)]);
        const state = JSON.parse(withoutToken(JSON.stringify(sp), tp)) as Record<string, unknown>;
        assert.deepEqual(state, JSON.parse(withoutToken(JSON.stringify(sl), tl)), `the job's end (${path})`);
        assert.ok(!JSON.stringify(sp).includes(SECRET), 'no job state shows the password');
        if (sp.logfile !== undefined) {
          for (const format of ['csv', 'json']) {
            const [ll, lp] = await Promise.all([call(lite, `/v1/import/${tl}/log?format=${format}`), call(p.pg, `/v1/import/${tp}/log?format=${format}`)]);
            assert.equal(lp.status, 200);
            assert.equal(stable(await lp.text()), stable(await ll.text()), `the job's log as ${format} (${path})`);
          }
        }
        return { pg: tp, lite: tl, state };
      },
      async data(classes) {
        // Each check's two commands run at once, two checks at a time: the stores are independent.
        const checks: (() => Promise<void>)[] = [];
        for (const cls of classes) {
          for (const how of [['--format', 'csv'], ...(WITH_IDS[cls] ? [['--columns', WITH_IDS[cls] as string, '--raw']] : [])]) {
            checks.push(async () => {
              const [l, g] = (await onBoth(['export', '--class', cls, ...how])) as [CliResult, CliResult];
              assert.equal(l.code, 0, l.stderr);
              assert.equal(g.stdout, l.stdout, `export of ${cls} ${how.join(' ')}\n${g.stderr}`);
            });
          }
        }
        checks.push(async () => {
          const [l, g] = (await onBoth(['changes', '--format', 'json', '--limit', '1000'])) as [CliResult, CliResult];
          assert.equal(l.code, 0, l.stderr);
          assert.equal(stableTimes(g.stdout), stableTimes(l.stdout), 'the change records');
        });
        const from = compared + 1;
        compared = p.last();
        for (let c = from; c <= compared; c++) {
          checks.push(async () => {
            const [hl, hp] = (await onBoth(['history', '--change', String(c), '--format', 'csv'])) as [CliResult, CliResult];
            assert.equal(hp.code, hl.code);
            assert.equal(hp.stdout, hl.stdout, `history of change ${c}\n${hp.stderr}`);
          });
        }
        const run = async (): Promise<void> => {
          for (let next = checks.shift(); next; next = checks.shift()) await next();
        };
        await Promise.all([run(), run()]);
      },
      last: () => query<{ id: number | null }>(box.db, 'SELECT max(id) AS id FROM _sluice_change')[0]?.id ?? 0,
      async restartPg(env = pgEnv) {
        await stop(p.pg);
        assert.ok(!p.pg.cli.stderrText().includes(SECRET), "the server's log never shows the password");
        p.pg = await servePg(url, spool, token, env);
      },
    };
    made = p;
    return p;
  };
}
