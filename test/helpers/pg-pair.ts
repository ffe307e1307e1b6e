/**
 * The same commands on an SQLite database and on a PostgreSQL schema, compared as they go.
 *
 * A pair is a sandbox with a fresh SQLite database and a fresh PostgreSQL database, both
 * made by `sluice init`; each command runs on both stores at once (they are independent),
 * through the CLI's command functions in a command runner (runCommand, cli.ts), and must
 * give the same exit code, the same standard output (timing lines removed), the same
 * standard error, and never the password. `same()` then reads both back with
 * `sluice export`, `sluice changes` and `sluice history`, which must print the same bytes.
 *
 * `sluice init` runs once per suite for each set of init arguments, on a template pair; each
 * new pair starts from copies of the template's two databases (a file copy, and CREATE
 * DATABASE … TEMPLATE), which hold what the init wrote, byte for byte.
 *
 * Usage, in a describe block of a file that called usePostgres():
 *   const pair = pgPairs(server);
 *   it('…', async () => { const p = await pair(); await p.imp('Person', csv, ['--keys', 'email']); await p.same(true); });
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { type CliResult, type Sandbox, query, readBack, runCli, runCommand, suiteSandboxes } from './cli.js';
import { LOG } from './fixtures.js';
import type { PgServer } from './postgres.js';

/** The password every pair's URL carries: no output may show it. */
export const SECRET = 'N0t-4-pr1nt';

/** The cmdb classes every pair exports, whatever it imported. */
export const CMDB_CLASSES = ['Organization', 'Location', 'Person', 'Team', 'UserLocal', 'Profile'];

/** Each class's export with its ids, so that an object shows which id it was given. */
export const WITH_IDS: Readonly<Record<string, string>> = { Organization: 'id,name,parent_id', Person: 'id,name,email,org_id', Team: 'id,name,persons_list', UserLocal: 'id,login,contactid', Profile: 'id,name' };

/** A report without what varies from run to run: elapsed time, rate, memory. */
export function stable(text: string): string {
  return text
    .split('\n')
    .filter((l) => !/^#(Elapsed|Rows\/s|Peak memory):/.test(l))
    .join('\n')
    .replace(/"(elapsed_s|rows_per_s|peak_rss_bytes)":[0-9.e+-]+/g, '');
}

/** stable(), and times of day masked too (change records, undo reports). */
export function stableTimes(text: string): string {
  return stable(text.replace(/\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?Z?/g, '<time>'));
}

export interface Pair {
  sb: Sandbox;
  url: string;
  /**
   * The same command (without --db) on both; asserts the same outcome and returns SQLite's.
   * Where an argument is LOG (`--log {log}`), each store writes a log file of its own, and the two must be the same.
   */
  run(args: string[], code?: number, what?: string): Promise<CliResult>;
  /** the same import on both; asserts the same outcome and returns SQLite's */
  imp(cls: string, content: string | Buffer, args?: string[], code?: number): Promise<CliResult>;
  /** the same undo on both; asserts the same outcome and returns SQLite's */
  undo(change: number | string, args?: string[], code?: number): Promise<CliResult>;
  /** the id of the last change (SQLite's; same() checks PostgreSQL's are the same) */
  last(): number;
  /**
   * The classes exported (the pair's classes, and every class imported into since), every
   * change record, and histories the same on both: those of the changes since the last call,
   * or (`all`) of every change.
   */
  same(all?: boolean): Promise<void>;
  /**
   * A new pair holding copies of this one's two databases, as they are now (their histories
   * already compared), whose same() exports `classes` (default this pair's) and the classes
   * imported into since.
   */
  fork(classes?: readonly string[]): Promise<Pair>;
  /** a query on the PostgreSQL schema */
  pgQuery<T>(sql: string): Promise<T[]>;
}

export interface PairOptions {
  /** what standard output is compared without (default stable) */
  stable?: (text: string) => string;
  /**
   * Whether same() exports the classes of WITH_IDS with their ids too (default true). A suite
   * whose same() compares the history of every change it made sees the ids already: history
   * names each object written by its id, and its references by the ids they hold.
   */
  ids?: boolean;
}

export interface NewPair {
  /** the classes same() always exports (default CMDB_CLASSES) */
  classes?: readonly string[];
  /** `sluice init` arguments besides --db (e.g. --model FILE) */
  init?: readonly string[];
}

/**
 * `CREATE DATABASE name TEMPLATE template`, retried while the template still has sessions
 * (those of commands that just ended); its locale is the template's.
 */
async function copyDatabase(server: PgServer, name: string, template: string): Promise<void> {
  const admin = await server.connect();
  try {
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [template]);
    for (let k = 0; ; k++) {
      try {
        await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== '55006' || k >= 50) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  } finally {
    await admin.end();
  }
}

/** Copy an SQLite database's files (its WAL too, when there is one) to `to`. */
function copySqlite(from: string, to: string): void {
  for (const ext of ['', '-wal', '-shm']) if (existsSync(from + ext)) copyFileSync(from + ext, to + ext);
}

/** Pairs made in this suite, their sandboxes removed when it ends. Call in a describe block. */
export function pgPairs(server: () => PgServer, options: PairOptions = {}): (made?: NewPair) => Promise<Pair> {
  const box = suiteSandboxes();
  let files = 0;
  let forks = 0;
  const norm = options.stable ?? stable;

  function make(sb: Sandbox, database: string, classes: string[], compared: number): Pair {
    const url = server().url(database).replace('postgres@', `postgres:${SECRET}@`);
    const both = async (args: string[], code: number, what: string): Promise<[CliResult, CliResult]> => {
      const logs = [join(sb.dir, `lite-${files}.log`), join(sb.dir, `pg-${files}.log`)];
      files++;
      const [lite, pgr] = (await Promise.all(
        [sb.db, url].map((db, k) => runCommand([...args.map((a) => (a === LOG ? (logs[k] as string) : a)), '--db', db])),
      )) as [CliResult, CliResult];
      assert.equal(lite.code, code, `SQLite ${what}: exit ${String(lite.code)}\n${lite.stdout}\n${lite.stderr}`);
      assert.equal(pgr.code, lite.code, `PostgreSQL ${what}: exit ${String(pgr.code)}\n${pgr.stdout}\n${pgr.stderr}`);
      assert.equal(norm(pgr.stdout), norm(lite.stdout), `standard output of ${what}`);
      assert.equal(pgr.stderr, lite.stderr, `standard error of ${what}`);
      assert.ok(!pgr.stdout.includes(SECRET) && !pgr.stderr.includes(SECRET), 'the password is never printed');
      if (args.includes(LOG)) {
        const [a, b] = logs.map((f) => (existsSync(f) ? readFileSync(f, 'utf8') : null));
        assert.equal(b, a, `the log of ${what}`);
      }
      return [lite, pgr];
    };
    const last = (): number => query<{ id: number | null }>(sb.db, 'SELECT max(id) AS id FROM _sluice_change')[0]?.id ?? 0;
    const p: Pair = {
      sb,
      url,
      last,
      run: async (args, code = 0, what = args[0] ?? '') => (await both(args, code, what))[0],
      async imp(cls, content, args = [], code = 0) {
        const ext = args.includes('--format') && args[args.indexOf('--format') + 1] === 'json' ? 'json' : 'csv';
        const file = sb.file(`in-${files++}.${ext}`, content);
        const [lite] = await both(['import', '--class', cls, '--file', file, '--progress', 'none', ...args], code, `import of ${cls}`);
        // A usage error (exit 2) writes nothing, and may name no class at all.
        if (lite.code !== 2 && !classes.includes(cls)) classes.push(cls);
        return lite;
      },
      undo: async (change, args = [], code = 0) => (await both(['undo', '--change', String(change), ...args], code, `undo of change ${change}`))[0],
      async same(all = false) {
        // Every read of a store in one process (readBack), the two stores at once: they are independent.
        const reads: [string, string[]][] = [];
        for (const cls of classes) {
          const ways = [['--format', 'csv'], ...(WITH_IDS[cls] && options.ids !== false ? [['--columns', WITH_IDS[cls] as string, '--raw']] : [])];
          for (const how of ways) reads.push([`export of ${cls} ${how.join(' ')}`, ['export', '--class', cls, ...how]]);
        }
        reads.push(['the change records', ['changes', '--format', 'json', '--limit', '1000']]);
        const from = all ? 1 : compared + 1;
        compared = last();
        for (let c = from; c <= compared; c++) reads.push([`history of change ${c}`, ['history', '--change', String(c), '--format', 'csv']]);
        const [lite, pgr] = await Promise.all([sb.db, url].map((db) => readBack(reads.map(([, args]) => [...args, '--db', db]))));
        reads.forEach(([what, args], k) => {
          const [l, r] = [lite?.[k], pgr?.[k]] as [CliResult, CliResult];
          if (args[0] !== 'history') assert.equal(l.code, 0, `SQLite's ${what}: ${l.stderr}`);
          assert.ok(l.stdout !== '', `SQLite's ${what} printed something`);
          assert.equal(r.code, l.code, `PostgreSQL's ${what}: ${r.stderr}`);
          const norm = args[0] === 'changes' ? stableTimes : (t: string): string => t;
          assert.equal(norm(r.stdout), norm(l.stdout), what);
        });
      },
      async fork(exported = classes) {
        const copy = box();
        copySqlite(sb.db, copy.db);
        const name = `${database}_f${++forks}`;
        // A copy needs the database alone: the commands' sessions may still be ending.
        await copyDatabase(server(), name, database);
        return make(copy, name, [...exported], compared);
      },
      async pgQuery<T>(sql: string): Promise<T[]> {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        try {
          return (await c.query(sql)).rows as T[];
        } finally {
          await c.end();
        }
      },
    };
    return p;
  }

  /** The databases `sluice init` made with the same arguments, by those arguments. */
  const templates = new Map<string, Promise<{ sqlite: string; database: string }>>();
  let pairs = 0;
  const template = (init: readonly string[]): Promise<{ sqlite: string; database: string }> => {
    const key = JSON.stringify(init);
    let t = templates.get(key);
    if (t === undefined) {
      t = (async () => {
        const sb = box();
        const url = await server().freshDatabase();
        for (const db of [sb.db, url]) {
          const r = await runCli(['init', '--db', db, ...init]);
          assert.equal(r.code, 0, r.stderr);
        }
        return { sqlite: sb.db, database: decodeURIComponent(new URL(url).pathname.slice(1)) };
      })();
      templates.set(key, t);
    }
    return t;
  };

  return async (made = {}) => {
    const from = await template(made.init ?? []);
    const sb = box();
    copySqlite(from.sqlite, sb.db);
    const database = `${from.database}_p${++pairs}`;
    await copyDatabase(server(), database, from.database);
    return make(sb, database, [...(made.classes ?? CMDB_CLASSES)], 0);
  };
}
