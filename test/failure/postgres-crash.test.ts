/**
 * SPEC §9 on PostgreSQL: an import into a PostgreSQL schema that is killed (SIGKILL) or
 * interrupted (Ctrl-C) leaves what the same import leaves on SQLite.
 *
 * Each test holds the import at a known step with a pause point (`SLUICE_TEST_PAUSE`,
 * src/base/pause.ts), never by hoping it is slow: `frame-applied` (a frame's rows written,
 * the run's transaction open) or `chunk-committed` (right after a chunk's COMMIT). While it
 * is held, the test checks from another session what the server sees (the transaction open
 * or not, the writer lock held), then kills or interrupts it.
 *
 * - SIGKILL: the server rolls the open transaction back; what is left is the schema as it
 *   was, or (`--chunk-size`) exactly the chunks committed before the kill, with the change
 *   record an SQLite run killed there leaves (outcome `running`, the committed rows'
 *   counts), and nothing else. The writer lock (session-level) is gone with the session:
 *   the next import takes it without waiting, and gives, as `sluice export` shows it, the
 *   data a run that was never killed gives, byte for byte.
 * - SIGINT: the open transaction rolls back, the committed chunks stay, and the exit code,
 *   the one-line message, the report's counts (what is committed, and what was rolled back
 *   stated apart) and the change record are those of SQLite, which runs the same steps.
 *
 * A PostgreSQL sequence does not roll back with a transaction: a run killed with creates in
 * its open transaction leaves a gap in the class's ids and the change ids (docs/postgres.md),
 * where SQLite's AUTOINCREMENT leaves none. `sluice export` does not show ids, and the data
 * converge; the reports of the next run name other ids than on SQLite.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { ENTRIES_OF_ROW, type CliResult, type RunningCli, runCli, sandbox, startCli, type Sandbox } from '../helpers/cli.js';
import { ORGS, type ChangeRow, type Feed, type State, applyRows, changesAfter, csvCell, initialFeed, readState, stateDiff, valueKey, withDb } from '../helpers/crash.js';
import { mirrorToPostgres } from '../helpers/pg-mirror.js';
import { onPg, usePostgres, waitFor } from '../helpers/postgres.js';
import { writerLockKey } from '../../src/store/postgres/lock.js';
import type { Counts } from '../../src/report/types.js';

const server = usePostgres();

/** Rows of the generated feed the kill tests import (a few of them span two lines). */
const ROWS = 1500;
/** Bytes per frame: about 270 rows of the feed, so that a frame holds a chunk and the start of the next. */
const FRAME_BYTES = 16_384;
const CHUNK = 100;
/** The persons of the base, which no feed names. */
const OLD_PERSONS = 3;

/** The classes and link tables a Person import must leave as they are. */
const OTHER_TABLES = ['Organization', 'Location', 'Team', 'UserLocal', 'Profile', 'Server', 'Software', 'Team_persons_list', 'UserLocal_profile_list', 'Server_software_list'];

interface JsonReport extends Omit<Counts, 'warnings'> {
  lines: number;
  change: number;
  rows?: { line: number; status: string }[];
}

// ------------------------------------------------------------------ the server's side

/** The Person table through the model's eyes (crash.ts's readState, on PostgreSQL). */
async function pgState(c: pg.Client): Promise<{ state: State; rows: number }> {
  const r = await c.query<[string, string, string, string | null, string]>({
    text: 'SELECT p.email, p.name, p.first_name, o.name, p.function FROM sluice."Person" p LEFT JOIN sluice."Organization" o ON o.id = p.org_id',
    rowMode: 'array',
  });
  const state: State = new Map();
  for (const [email, name, first, org, fn] of r.rows) state.set(email, valueKey([name, first, org ?? '', fn]));
  return { state, rows: r.rows.length };
}

/** Everything but the Person table, as text: a Person import must not change it. */
async function pgOthers(c: pg.Client): Promise<string> {
  const parts: unknown[] = [];
  for (const t of OTHER_TABLES) parts.push(t, (await c.query({ text: `SELECT * FROM sluice."${t}" ORDER BY 1, 2`, rowMode: 'array' })).rows);
  return JSON.stringify(parts);
}

async function pgChanges(c: pg.Client, after: number): Promise<ChangeRow[]> {
  const r = await c.query<Record<string, string | number>>(
    'SELECT id, class, outcome, lines, created, updated, unchanged, deleted, skipped, errors FROM sluice._sluice_change WHERE id > $1 ORDER BY id',
    [after],
  );
  return r.rows.map((x) => ({
    id: Number(x.id),
    class: String(x.class),
    outcome: String(x.outcome),
    lines: Number(x.lines),
    created: Number(x.created),
    updated: Number(x.updated),
    unchanged: Number(x.unchanged),
    deleted: Number(x.deleted),
    skipped: Number(x.skipped),
    errors: Number(x.errors),
  }));
}

async function pgMaxChange(c: pg.Client): Promise<number> {
  return Number((await c.query<{ m: string }>('SELECT max(id) AS m FROM sluice._sluice_change')).rows[0]?.m);
}

/** History entries (a range row counts each object), all or of one change. */
async function pgHistory(c: pg.Client, change?: number): Promise<number> {
  const where = change === undefined ? '' : ` WHERE change_id = ${Number(change)}`;
  return Number((await c.query<{ n: string }>(`SELECT coalesce(sum(${ENTRIES_OF_ROW}), 0) AS n FROM sluice._sluice_history${where}`)).rows[0]?.n);
}

/** A change's history entries by operation, and those of created objects that do not exist. */
async function pgHistoryOf(c: pg.Client, change: number): Promise<{ ops: Record<string, number>; orphans: number }> {
  const ops: Record<string, number> = {};
  const r = await c.query<{ op: string; n: string }>(`SELECT op, sum(${ENTRIES_OF_ROW}) AS n FROM sluice._sluice_history WHERE change_id = $1 GROUP BY op`, [change]);
  for (const x of r.rows) ops[x.op] = Number(x.n);
  const o = await c.query<{ n: string }>(
    `SELECT coalesce(sum(${ENTRIES_OF_ROW} - (SELECT count(*) FROM sluice."Person" p WHERE p.id BETWEEN h.object_id AND coalesce(h.last_object_id, h.object_id))), 0) AS n
       FROM sluice._sluice_history h WHERE h.change_id = $1 AND h.class = 'Person'`,
    [change],
  );
  return { ops, orphans: Number(o.rows[0]?.n) };
}

const LOCK_KEY = writerLockKey('sluice').toString();

/** The application names of the sessions holding the schema's writer lock. */
async function lockHolders(c: pg.Client): Promise<string[]> {
  const r = await c.query<{ app: string | null }>(
    `SELECT a.application_name AS app FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid = (($1::bigint >> 32) & 4294967295)::oid AND l.objid = ($1::bigint & 4294967295)::oid AND l.objsubid = 1`,
    [LOCK_KEY],
  );
  return r.rows.map((x) => x.app ?? '?');
}

/** The states of the sessions of application `app` ('idle', 'idle in transaction', …). */
async function sessions(c: pg.Client, app: string): Promise<string[]> {
  return (await c.query<{ state: string }>('SELECT state FROM pg_stat_activity WHERE application_name = $1', [app])).rows.map((x) => x.state);
}

// ------------------------------------------------------------------ runs

function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, { env });
}

async function exportPersons(db: string): Promise<string> {
  const r = await cli(['export', '--db', db, '--class', 'Person', '--format', 'csv']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** The `lines` of the last progress event on standard error. */
function linesReported(stderr: string): number {
  let lines = -1;
  for (const l of stderr.split('\n')) {
    if (!l.startsWith('{') || !l.endsWith('}')) continue;
    const ev = JSON.parse(l) as { event: string; lines?: number };
    if (ev.event === 'progress') lines = ev.lines ?? -1;
  }
  return lines;
}

/** The report's `#Name: value` lines, in order. */
function summaryOf(stdout: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of stdout.split('\n')) {
    const x = /^#([^:]+): (.*)$/.exec(l);
    if (x) m.set(x[1] as string, x[2] as string);
  }
  return m;
}

/** Standard error without the progress events. */
function messages(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'));
}

describe('PostgreSQL: an import killed or interrupted (SPEC §9)', { concurrency: 2 }, () => {
  let box: Sandbox;
  /** the base every test starts from: organizations, three persons and a team */
  let baseLite = '';
  let baseName = '';
  let baseState: State = new Map();
  let baseOthers = '';
  let baseMaxChange = 0;
  let baseHistory = 0;
  let feed: Feed;
  let feedFile = '';
  /** what `sluice export --class Person` gives after a clean run of the feed */
  let reference = '';
  let copies = 0;
  let pauses = 0;
  const running = new Set<RunningCli>();

  /** A new database on the server, a copy of the base. */
  async function pgCopy(): Promise<string> {
    const name = `${baseName}_c${++copies}`;
    await onPg(server().url('postgres'), async (c) => {
      // The template must have no session: the base's own may take a moment to end.
      await waitFor(`the sessions of ${baseName} to end`, async () => {
        try {
          await c.query(`CREATE DATABASE ${name} TEMPLATE ${baseName}`);
          return true;
        } catch (err) {
          if ((err as { code?: string }).code === '55006') return false;
          throw err;
        }
      });
    });
    return server().url(name);
  }

  function liteCopy(): string {
    const db = join(box.dir, `copy-${++copies}.db`);
    copyFileSync(baseLite, db);
    return db;
  }

  /**
   * Start `sluice import` held at `point`: resolves once the import waits there (and has
   * reported a progress event with lines, for `frame-applied`). `input`, if given, is written
   * to its standard input, which stays open.
   */
  async function holdAt(point: 'frame-applied' | 'chunk-committed', args: string[], input?: string): Promise<{ run: RunningCli; release(): void }> {
    const pause = join(box.dir, `pause-${++pauses}`);
    writeFileSync(pause, '');
    const run = startCli(args, { env: { SLUICE_TEST_PAUSE: `${point}:${pause}` } });
    running.add(run);
    let ended = false;
    void run.done.then(() => {
      ended = true;
      running.delete(run);
    });
    if (input !== undefined) run.child.stdin.write(input);
    await waitFor(`the import to reach the pause point ${point}`, () => {
      if (ended) throw new Error(`the import ended before reaching ${point}:\n${run.stderrText()}`);
      return existsSync(`${pause}.reached`);
    });
    if (point === 'frame-applied' && args.includes('json')) await run.stderrMatches(/"event":"progress"[^\n]*"lines":[1-9]/);
    return { run, release: () => rmSync(pause, { force: true }) };
  }

  async function kill(run: RunningCli): Promise<void> {
    run.child.kill('SIGKILL');
    const r = await run.done;
    assert.equal(r.signal, 'SIGKILL', `the import was killed, not ended (${String(r.code)}):\n${r.stderr}`);
  }

  /** Once the killed import's session has ended, nobody holds the writer lock. */
  async function lockGoneWith(url: string, app: string): Promise<void> {
    await onPg(url, async (c) => {
      await waitFor(`the server to end the session of the killed import (${app})`, async () => (await sessions(c, app)).length === 0);
      assert.deepEqual(await lockHolders(c), [], 'the writer lock went with the killed session');
    });
  }

  const killArgs = (db: string, extra: string[] = []): string[] => ['import', '--db', db, '--class', 'Person', '--file', feedFile, '--keys', 'email', '--frame-bytes', String(FRAME_BYTES), ...extra];

  /** The state after the first `rows` rows of the feed, and the counts of applying them. */
  function prefix(rows: number): { state: State; counts: ReturnType<typeof applyRows> } {
    const state = new Map(baseState);
    return { state, counts: applyRows(state, feed, 0, rows) };
  }

  /**
   * The same import again, after a kill that left the first `committed` rows: it takes the
   * writer lock at once (SLUICE_LOCK_WAIT_MS=0 refuses to wait), reports what applying the
   * file to that state gives, row by row, and leaves the Person table a run that was never
   * killed leaves, as `sluice export` prints it.
   */
  async function rerun(db: string, committed: number): Promise<CliResult> {
    const r = await cli([...killArgs(db), '--progress', 'none', '--output', 'json'], { SLUICE_LOCK_WAIT_MS: '0' });
    assert.equal(r.code, 0, `the next import exited ${String(r.code ?? r.signal)}:\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /another import is writing/, 'the next import does not wait for the writer lock');
    const report = JSON.parse(r.stdout) as JsonReport;
    const expectedRows: [number, string][] = [];
    const expected = applyRows(prefix(committed).state, feed, 0, feed.rows.length, expectedRows);
    assert.deepEqual(
      { created: report.created, updated: report.updated, unchanged: report.unchanged, deleted: report.deleted, skipped: report.skipped, errors: report.errors, lines: report.lines },
      { ...expected, deleted: 0, skipped: 0, errors: 0, lines: feed.rows.length },
      `the next run's counts are those of applying the file to the first ${committed} rows`,
    );
    assert.deepEqual(
      (report.rows ?? []).map((x) => [x.line, x.status]),
      expectedRows,
      'the next run reports the created and updated rows the model gives, line by line',
    );
    assert.equal(await exportPersons(db), reference, 'sluice export: the Person table of a run never killed, byte for byte');
    if (db.startsWith('postgres://')) {
      await onPg(db, async (c) => {
        assert.equal(await pgOthers(c), baseOthers, 'organizations, teams, links and the other classes are as before');
        const last = (await pgChanges(c, baseMaxChange)).at(-1);
        assert.deepEqual([last?.id, last?.outcome], [report.change, 'committed']);
        assert.equal(await pgHistory(c, report.change), expected.created + expected.updated, 'one history entry per object the run created or updated');
      });
    }
    return r;
  }

  /** After a kill that committed the first `rows` rows (a chunk boundary): the Person table, the change record and the history say so, and nothing else moved. */
  async function committedRows(url: string, rows: number): Promise<ChangeRow | undefined> {
    const want = prefix(rows);
    return onPg(url, async (c) => {
      const { state, rows: n } = await pgState(c);
      assert.equal(n, state.size, 'one Person per email');
      assert.equal(stateDiff(state, want.state), null, `the Person table is the base plus the first ${rows} rows of the file`);
      assert.equal(await pgOthers(c), baseOthers, 'organizations, teams, links and the other classes are as before');
      const changes = await pgChanges(c, baseMaxChange);
      if (rows === 0) {
        assert.deepEqual(changes, [], 'nothing committed: no change record');
        assert.equal(await pgHistory(c), baseHistory, 'nothing committed: no history');
        return undefined;
      }
      assert.equal(changes.length, 1, `one change record: ${JSON.stringify(changes)}`);
      const ch = changes[0] as ChangeRow;
      // What crash.test.ts asks of SQLite for a run killed after k chunks.
      assert.deepEqual(
        { ...ch, id: 0 },
        { id: 0, class: 'Person', outcome: 'running', lines: rows, ...want.counts, deleted: 0, skipped: 0, errors: 0 },
        `the change record agrees with the first ${rows} rows, as on SQLite`,
      );
      const h = await pgHistoryOf(c, ch.id);
      assert.deepEqual(h.ops, { ...(want.counts.created ? { create: want.counts.created } : {}), ...(want.counts.updated ? { update: want.counts.updated } : {}) }, 'one history entry per created or updated object');
      assert.equal(h.orphans, 0, 'every history entry of a create names an object that exists');
      assert.equal(await pgHistory(c), baseHistory + want.counts.created + want.counts.updated, 'no other history');
      return ch;
    });
  }

  before(async () => {
    box = sandbox();
    baseLite = join(box.dir, 'base.db');
    // Organizations, three persons and a team, as one bundle (one run, one change).
    const bundle = join(box.dir, 'base');
    mkdirSync(bundle);
    writeFileSync(join(bundle, 'Organization.csv'), `name\n${ORGS.map(csvCell).join('\n')}\n`);
    writeFileSync(join(bundle, 'Person.csv'), 'name,first_name,org_id->name,email\nOld1,"A, B",Globex,old1@example.org\nOld2,C,"Acme, Inc.",old2@example.org\nOld3,D,Globex,old3@example.org\n');
    writeFileSync(join(bundle, 'Team.csv'), 'name,org_id->name,persons_list\nOld guard,Globex,person_id->email:old1@example.org|person_id->email:old2@example.org\n');
    const r0 = await cli(['import', '--db', baseLite, '--bundle', bundle, '--progress', 'none']);
    assert.equal(r0.code, 0, r0.stderr);
    baseState = withDb(baseLite, (d) => readState(d).state);
    assert.equal(baseState.size, OLD_PERSONS);

    // The same base on the server, copied row for row; each test imports into a copy of it.
    const url = await server().freshDatabase();
    baseName = new URL(url).pathname.slice(1);
    await mirrorToPostgres(baseLite, url);
    await onPg(url, async (c) => {
      baseOthers = await pgOthers(c);
      baseMaxChange = await pgMaxChange(c);
      baseHistory = await pgHistory(c);
    });

    feed = initialFeed(ROWS);
    feedFile = box.file('people.csv', feed.text);
    const clean = await pgCopy();
    const r = await cli([...killArgs(clean), '--progress', 'none', '--output', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const counts = prefix(ROWS).counts;
    const report = JSON.parse(r.stdout) as JsonReport;
    assert.deepEqual({ created: report.created, updated: report.updated, unchanged: report.unchanged }, counts, 'a clean run reports what the model gives');
    reference = await exportPersons(clean);
  });

  after(() => {
    for (const run of running) run.child.kill('SIGKILL');
    box?.cleanup();
  });

  it('SIGKILL with the transaction open: the schema is as before, no change record, the writer lock goes with the session, and the next run gives the data of a run never killed', async () => {
    const url = await pgCopy();
    const app = 'killed_open';
    const held = await holdAt('frame-applied', killArgs(`${url}?application_name=${app}`, ['--progress', 'json']));
    const applied = linesReported(held.run.stderrText());
    assert.ok(applied > 0 && applied < ROWS, `held after a frame of rows, not at the end (${applied} rows applied)`);
    await onPg(url, async (c) => {
      assert.deepEqual(await sessions(c, app), ['idle in transaction'], 'held with its transaction open');
      assert.deepEqual(await lockHolders(c), [app], 'the import holds the writer lock');
      assert.equal((await pgState(c)).rows, OLD_PERSONS, 'the rows it wrote are not committed');
    });
    await kill(held.run);
    await lockGoneWith(url, app);
    await committedRows(url, 0);
    await rerun(url, 0);
  });

  it("--chunk-size, SIGKILL right after a COMMIT: that chunk stays, exactly, with the change record and history SQLite keeps when killed there; the next run converges, with SQLite's report", async () => {
    const url = await pgCopy();
    const lite = liteCopy();
    const app = 'killed_committed';
    const chunked = ['--chunk-size', String(CHUNK), '--progress', 'none'];
    const [heldPg, heldLite] = await Promise.all([holdAt('chunk-committed', killArgs(`${url}?application_name=${app}`, chunked)), holdAt('chunk-committed', killArgs(lite, chunked))]);
    await onPg(url, async (c) => {
      assert.deepEqual(await sessions(c, app), ['idle'], 'held between a COMMIT and the next transaction');
      assert.deepEqual(await lockHolders(c), [app], 'the import holds the writer lock between chunks');
    });
    await Promise.all([kill(heldPg.run), kill(heldLite.run)]);
    await lockGoneWith(url, app);

    const ch = (await committedRows(url, CHUNK)) as ChangeRow;
    // SQLite, killed at the same point.
    withDb(lite, (d) => {
      assert.equal(stateDiff(readState(d).state, prefix(CHUNK).state), null, 'SQLite keeps the same chunk');
      assert.deepEqual(changesAfter(d, baseMaxChange), [ch], 'the change record is the one SQLite leaves');
    });
    const history = async (db: string): Promise<string> => {
      const r = await cli(['history', '--db', db, '--change', String(ch.id), '--format', 'csv']);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    const [historyPg, historyLite] = await Promise.all([history(url), history(lite)]);
    assert.equal(historyPg, historyLite, "sluice history of the killed run's change: as on SQLite, byte for byte");

    const [pgRun, liteRun] = await Promise.all([rerun(url, CHUNK), rerun(lite, CHUNK)]);
    const stable = (s: string): string => s.replace(/"(elapsed_s|rows_per_s|peak_rss_bytes)":[0-9.e+-]+/g, '');
    assert.equal(stable(pgRun.stdout), stable(liteRun.stdout), "the next run's report: as on SQLite, byte for byte");
  });

  it('--chunk-size, SIGKILL with chunks committed and the next one open: exactly the committed chunks stay, and the next run converges', async () => {
    const url = await pgCopy();
    const app = 'killed_between';
    const held = await holdAt('frame-applied', killArgs(`${url}?application_name=${app}`, ['--chunk-size', String(CHUNK), '--progress', 'json']));
    const applied = linesReported(held.run.stderrText());
    // The first frame holds a chunk and part of the next (FRAME_BYTES and CHUNK are chosen so).
    assert.ok(applied > CHUNK && applied % CHUNK !== 0 && applied < ROWS, `held with rows past the last chunk boundary (${applied} rows applied, chunks of ${CHUNK})`);
    const committed = applied - (applied % CHUNK);
    await onPg(url, async (c) => {
      assert.deepEqual(await sessions(c, app), ['idle in transaction'], 'held with the next chunk open');
      assert.equal((await pgState(c)).rows, OLD_PERSONS + prefix(committed).counts.created, 'only the committed chunks are visible');
    });
    await kill(held.run);
    await lockGoneWith(url, app);
    await committedRows(url, committed);
    await rerun(url, committed);
  });

  // ---------------------------------------------------------------- Ctrl-C, on both stores

  /** A feed of single-line rows of one width: frames of FRAME_ROWS rows, none ending on a chunk boundary. */
  const SIGINT_ROWS = 1000;
  const FRAME_ROWS = 150;
  const SIGINT_CHUNK = 400;
  const row = (i: number): string => `N${String(i).padStart(4, '0')},F${String(i).padStart(4, '0')},Globex,p${String(i).padStart(4, '0')}@x.org\n`;
  const sigintText = 'name,first_name,org_id->name,email\n' + Array.from({ length: SIGINT_ROWS }, (_, i) => row(i + 1)).join('');

  interface Interrupted {
    code: number | null;
    /** the one line on standard error besides the progress events */
    message: string[];
    summary: Map<string, string>;
    /** new persons in the database: the committed rows */
    kept: number;
    change: ChangeRow[];
  }

  /**
   * Import the feed from standard input, which stays open (the run cannot end by itself),
   * hold it at a pause point (a chunk committed, or a frame's rows applied), send SIGINT,
   * then let it go on.
   */
  async function interrupt(db: string, chunked: boolean): Promise<Interrupted> {
    const onServer = db.startsWith('postgres://');
    const args = ['import', '--db', db, '--class', 'Person', '--file', '-', '--keys', 'email', '--progress', 'json', '--frame-bytes', String(FRAME_ROWS * row(1).length), ...(chunked ? ['--chunk-size', String(SIGINT_CHUNK)] : [])];
    const { run, release } = await holdAt(chunked ? 'chunk-committed' : 'frame-applied', args, sigintText);
    run.child.kill('SIGINT');
    release();
    const r = await run.done;
    running.delete(run);
    const kept = onServer
      ? await onPg(db, async (c) => (await pgState(c)).rows - OLD_PERSONS)
      : withDb(db, (d) => readState(d).rows - OLD_PERSONS);
    const change = onServer ? await onPg(db, (c) => pgChanges(c, baseMaxChange)) : withDb(db, (d) => changesAfter(d, baseMaxChange));
    if (onServer) await onPg(db, async (c) => assert.deepEqual(await lockHolders(c), [], 'the interrupted import released the writer lock'));
    return { code: r.code, message: messages(r.stderr), summary: summaryOf(r.stdout), kept, change };
  }

  /** What an interrupted run must show, on either store; returns its shape with the numbers taken out. */
  function checkInterrupted(store: string, x: Interrupted, chunked: boolean): string {
    assert.equal(x.code, 130, `${store}: exit 130\n${x.message.join('\n')}`);
    assert.equal(x.message.length, 1, `${store}: one line on standard error: ${JSON.stringify(x.message)}`);
    const m = /^sluice: interrupted after line (\d+); (?:committed up to line (\d+), the rest|the import) was rolled back$/.exec(x.message[0] as string);
    assert.ok(m, `${store}: the message: ${x.message[0]}`);
    const s = x.summary;
    const lines = Number(s.get('Data Lines'));
    assert.equal(Number(m[1]), lines + 1, `${store}: the message names the line after the last row read`);
    if (chunked) {
      assert.ok(x.kept >= SIGINT_CHUNK && x.kept % SIGINT_CHUNK === 0, `${store}: whole chunks are kept (${x.kept} rows)`);
      assert.equal(Number(m[2]), x.kept + 1, `${store}: the message names the last committed line`);
      assert.equal(s.get('Last committed line'), String(x.kept + 1), `${store}: the report names the last committed line`);
    } else {
      assert.equal(x.kept, 0, `${store}: the open transaction was rolled back`);
      assert.equal(m[2], undefined);
      assert.equal(s.has('Last committed line'), false);
    }
    const back = lines - x.kept;
    assert.ok(back > 0, `${store}: rows were applied past the last commit (${lines} read, ${x.kept} kept)`);
    assert.equal(s.get('Result'), 'interrupted', store);
    assert.deepEqual(
      ['Created', 'Updated', 'Unchanged', 'Deleted', 'Skipped', 'Issues'].map((k) => s.get(k)),
      [String(x.kept), '0', '0', '0', '0', '0'],
      `${store}: the report counts what is committed`,
    );
    assert.equal(s.get('Rolled back'), `${back} row${back === 1 ? '' : 's'} (created ${back})`, `${store}: and states what was rolled back apart`);
    assert.deepEqual(
      x.change.map((c) => ({ ...c, id: 0 })),
      [{ id: 0, class: 'Person', outcome: 'interrupted', lines, created: x.kept, updated: 0, unchanged: 0, deleted: 0, skipped: 0, errors: 0 }],
      `${store}: the change record counts what is committed`,
    );
    return [...s.keys()].join(',') + '\n' + (x.message[0] as string).replace(/\d+/g, 'N');
  }

  for (const chunked of [true, false]) {
    const title = chunked
      ? 'Ctrl-C with --chunk-size: the open chunk rolls back, the committed ones stay; exit 130, message, report and change record as on SQLite'
      : 'Ctrl-C: the open transaction rolls back; exit 130, message, report and change record as on SQLite';
    it(title, async () => {
      const [pgRun, liteRun] = await Promise.all([pgCopy().then((url) => interrupt(url, chunked)), interrupt(liteCopy(), chunked)]);
      const pgShape = checkInterrupted('PostgreSQL', pgRun, chunked);
      const liteShape = checkInterrupted('SQLite', liteRun, chunked);
      assert.equal(pgShape, liteShape, 'the same report lines and the same message as on SQLite');
    });
  }
});
