import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { changeEntries } from '../../../src/export/history-read.js';
import { parseRecords } from '../../../src/input/parse.js';
import { configure, initStore, readModel, resolveModel } from '../../../src/model/store.js';
import { ensureLookupIndex, lookupIndexName, q } from '../../../src/model/schema.js';
import type { ClassDef, Model } from '../../../src/model/types.js';
import { Lookup } from '../../../src/resolve/lookup.js';
import type { ResolvedChunk } from '../../../src/resolve/protocol.js';
import { resolveChunk } from '../../../src/resolve/resolve.js';
import { compileDateFormat } from '../../../src/rows/dates.js';
import { buildPlan } from '../../../src/rows/header.js';
import { mapRows } from '../../../src/rows/map.js';
import type { Action, ImportPlan } from '../../../src/rows/plan.js';
import { decodeBlock } from '../../../src/report/spool.js';
import { type AppliedChunk, Applier, type CheckpointAside, type RunInfo, STATUS_NAMES, replyOf } from '../../../src/write/apply.js';
import { MASK, verifyPassword } from '../../../src/write/password.js';

type DB = Database.Database;

interface Store {
  path: string;
  /** the writer's connection, WAL, like the writer thread's */
  writer: DB;
  /** a read-only connection, like a worker's: it sees committed state only */
  reader: DB;
  model: Model;
}

/** A fresh cmdb database with the organization "IT" committed. */
function fresh(t: TestContext): Store & { it: number } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-apply-'));
  const path = join(dir, 'cmdb.db');
  initStore(path, resolveModel('cmdb'));
  const writer = new Database(path, { fileMustExist: true });
  configure(writer, 'writer');
  const reader = new Database(path, { readonly: true, fileMustExist: true });
  t.after(() => {
    reader.close();
    writer.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const it = Number(writer.prepare(`INSERT INTO Organization (name, status) VALUES ('IT', 'active')`).run().lastInsertRowid);
  return { path, writer, reader, model: readModel(writer, path), it };
}



const iso = compileDateFormat(undefined);

/** One import run driven by hand: header plan, worker-side resolution, the Applier. */
class Run {
  readonly plan: ImportPlan;
  readonly applier: Applier;
  private readonly lookup: Lookup;
  private seq = 0;
  private linesSoFar = 0;

  constructor(
    private readonly store: Store,
    className: string,
    header: string[],
    opts: { keys?: string[]; action?: Action; ignoreEmpty?: boolean; deferKeyIndex?: boolean; checkpointAside?: CheckpointAside } = {},
    run: Partial<RunInfo> = {},
  ) {
    const cls = store.model.classes.get(className) as ClassDef;
    this.plan = buildPlan(store.model, cls, header, { keys: opts.keys, action: opts.action ?? 'upsert', ignoreEmpty: opts.ignoreEmpty ?? false });
    // As the writer thread sets up a run into an empty class: the workers answer its lookups
    // without a query, and its key index is left to the Applier.
    const defer = opts.deferKeyIndex === true;
    if (defer) store.writer.exec(`DROP INDEX IF EXISTS ${q(lookupIndexName(className, this.plan.keys))}`);
    this.lookup = new Lookup(store.reader, { empty: defer ? [className] : [] });
    const parsing = { ...(defer ? { deferredIndexes: [ensureLookupIndex(cls, this.plan.keys)] } : {}), checkpointAside: opts.checkpointAside };
    this.applier = new Applier(store.writer, store.model, this.plan, {
      user: 'tester',
      comment: 'unit',
      file: 'feed.csv',
      simulate: false,
      stopOnError: true,
      chunkSize: 0,
      ...run,
    }, parsing);
    this.applier.begin(className, this.plan.action);
  }

  /** Parse, map and resolve a frame of data records against the committed state, as a worker does. */
  resolve(body: string, firstLine: number): ResolvedChunk {
    const buf = Buffer.from(body, 'utf8');
    const { records, lines } = parseRecords(buf, firstLine, { delimiter: 44, quote: 34 });
    const mapped = mapRows(this.store.model, this.plan, records, lines, { dates: iso });
    return resolveChunk(this.store.model, this.plan, this.lookup, mapped, this.seq++, buf.byteLength);
  }

  apply(chunk: ResolvedChunk, wantRows = false): AppliedChunk {
    const out = this.applier.apply(chunk, wantRows);
    this.linesSoFar += out.count;
    return out;
  }

  finish(ok = true, outcome = ok ? 'committed' : 'rolled back'): number | null {
    return this.applier.finish(ok, outcome, this.linesSoFar);
  }
}

function statuses(out: AppliedChunk): string[] {
  return Array.from(out.status.slice(0, out.count), (s) => STATUS_NAMES[s] as string);
}

/** A failure message that shows what the writer said about each row. */
function explain(out: AppliedChunk): string {
  return statuses(out)
    .map((s, i) => `${s}${out.message[i] ? `: ${out.message[i]}` : ''}`)
    .join('\n');
}

function count(db: DB, sql: string, ...params: unknown[]): number {
  return db.prepare(sql).pluck().get(...params) as number;
}

interface HistoryRow {
  object_id: number;
  op: string;
  changes: Record<string, [unknown, unknown]>;
}

/** The history of a change as `sluice history` reads it: one entry per object, ranges expanded. */
function history(db: DB, change: number): HistoryRow[] {
  return [...changeEntries(db, readModel(db, 'test'), change)].map((h) => ({
    object_id: h.object_id,
    op: h.op,
    changes: JSON.parse(h.changes) as Record<string, [unknown, unknown]>,
  }));
}

function changeRow(db: DB, id: number): Record<string, unknown> {
  const row = db.prepare(`SELECT * FROM _sluice_change WHERE id = ?`).get(id) as Record<string, unknown> | undefined;
  assert.ok(row, `change ${id} is recorded`);
  return row;
}

const PERSON = ['Last Name', 'Email', 'Phone', 'Organization->Name'];

describe('Applier: sequential semantics', () => {
  it('updates, within one chunk, the object an earlier row created (the writer re-checks)', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Person', PERSON, { keys: ['email'] });
    const chunk = run.resolve('Doe,jd@x.org,111,IT\nDoe,jd@x.org,222,IT\nDoe,jd@x.org,222,IT\n', 2);
    const out = run.apply(chunk);
    assert.deepEqual(statuses(out), ['created', 'updated', 'unchanged'], explain(out));
    assert.equal(out.id[1], out.id[0]);
    assert.equal(out.id[2], out.id[0]);
    assert.equal(out.changed[1], 'phone');
    const change = run.finish();
    assert.ok(change);
    assert.deepEqual(s.writer.prepare(`SELECT id, name, email, phone, org_id FROM Person`).all(), [{ id: out.id[0], name: 'Doe', email: 'jd@x.org', phone: '222', org_id: s.it }]);
    assert.deepEqual(run.applier.counts, { created: 1, updated: 1, unchanged: 1, deleted: 0, skipped: 0, errors: 0, warnings: 0 });
  });

  it('sees, in a later chunk resolved before the earlier one was written, what the earlier one did', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Person', PERSON, { keys: ['email'] });
    const first = run.resolve('Doe,jd@x.org,111,IT\n', 2);
    const second = run.resolve('Doe,jd@x.org,333,IT\nRoe,rr@x.org,,IT\n', 3);
    const a = run.apply(first);
    const b = run.apply(second);
    assert.deepEqual(statuses(a), ['created']);
    assert.deepEqual(statuses(b), ['updated', 'created'], explain(b));
    assert.equal(b.id[0], a.id[0]);
    run.finish();
    assert.equal(count(s.writer, `SELECT count(*) FROM Person`), 2);
    assert.equal(s.writer.prepare(`SELECT phone FROM Person WHERE email = 'jd@x.org'`).pluck().get(), '333');
  });

  it('does not let a row match an object whose key an earlier row changed', (t) => {
    const s = fresh(t);
    const p = Number(s.writer.prepare(`INSERT INTO Person (name, email, org_id) VALUES ('Old', 'a@x.org', ?)`).run(s.it).lastInsertRowid);
    const run = new Run(s, 'Person', ['id', 'Last Name', 'Email', 'Organization->Name'], { keys: ['email'] });
    // the worker sees a@x.org on object p for the second row; the first row moves p to b@x.org
    const first = run.resolve(`${p},Old,b@x.org,IT\n`, 2);
    const second = run.resolve(`,New,a@x.org,IT\n`, 3);
    const a = run.apply(first);
    const b = run.apply(second);
    assert.deepEqual(statuses(a), ['updated'], explain(a));
    assert.equal(a.changed[0], 'email');
    assert.deepEqual(statuses(b), ['created'], explain(b));
    assert.notEqual(b.id[0], p);
    run.finish();
    assert.deepEqual(s.writer.prepare(`SELECT name, email FROM Person ORDER BY id`).all(), [
      { name: 'Old', email: 'b@x.org' },
      { name: 'New', email: 'a@x.org' },
    ]);
  });

  it('resolves a self-reference to a person created earlier in the same run', (t) => {
    const s = fresh(t);
    const header = ['Last Name', 'Email', 'Organization->Name', 'manager_id->email'];
    const run = new Run(s, 'Person', header, { keys: ['email'] }, { stopOnError: false });
    const first = run.resolve('Boss,boss@x.org,IT,\n', 2);
    const second = run.resolve('Emp,emp@x.org,IT,boss@x.org\nLost,lost@x.org,IT,nobody@x.org\n', 3);
    const a = run.apply(first);
    const b = run.apply(second);
    assert.deepEqual(statuses(a), ['created']);
    assert.deepEqual(statuses(b), ['created', 'error'], explain(b));
    assert.match(b.message[1] as string, /no Person matches "nobody@x\.org"/);
    run.finish();
    const emp = s.writer.prepare(`SELECT manager_id FROM Person WHERE email = 'emp@x.org'`).pluck().get();
    assert.equal(emp, a.id[0]);
  });

  it('resolves a self-reference to a person created by the row just before, in the same chunk', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Person', ['Last Name', 'Email', 'Organization->Name', 'manager_id->email'], { keys: ['email'] });
    const out = run.apply(run.resolve('Boss,boss@x.org,IT,\nEmp,emp@x.org,IT,boss@x.org\n', 2));
    assert.deepEqual(statuses(out), ['created', 'created'], explain(out));
    run.finish();
    assert.equal(s.writer.prepare(`SELECT manager_id FROM Person WHERE id = ?`).pluck().get(out.id[1]), out.id[0]);
  });

  it('does not resolve a self-reference to a person created after the row', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Person', ['Last Name', 'Email', 'Organization->Name', 'manager_id->email'], { keys: ['email'] }, { stopOnError: false });
    const out = run.apply(run.resolve('Emp,emp@x.org,IT,boss@x.org\nBoss,boss@x.org,IT,\n', 2));
    assert.deepEqual(statuses(out), ['error', 'created'], explain(out));
  });
});

describe('Applier: creates written in batches', () => {
  /** `n` persons, one per line: Name<k>,p<k>@x.org,<k>,IT */
  const persons = (n: number, from = 0): string => Array.from({ length: n }, (_, k) => `Name${from + k},p${from + k}@x.org,${from + k},IT\n`).join('');

  it('gives a run of creates consecutive ids in file order, with the counts and one history range', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Person', PERSON, { keys: ['email'] });
    const out = run.apply(run.resolve(persons(40), 2));
    assert.equal(out.count, 40);
    assert.ok(statuses(out).every((st) => st === 'created'), explain(out));
    for (let k = 1; k < 40; k++) assert.equal(out.id[k], (out.id[0] as number) + k, `row ${k}`);
    assert.deepEqual(run.applier.counts, { created: 40, updated: 0, unchanged: 0, deleted: 0, skipped: 0, errors: 0, warnings: 0 });
    const change = run.finish() as number;
    const rows = s.reader.prepare(`SELECT id, email, phone FROM Person ORDER BY id`).all() as { id: number; email: string; phone: string }[];
    assert.deepEqual(rows.map((r) => [r.id, r.email, r.phone]), Array.from({ length: 40 }, (_, k) => [out.id[k], `p${k}@x.org`, String(k)]));
    assert.equal(count(s.reader, `SELECT count(*) FROM _sluice_history WHERE change_id = ?`, change), 1, 'one range row');
    assert.deepEqual(history(s.reader, change).map((h) => h.object_id), Array.from(out.id));
  });

  it('reports the row that breaks a unique constraint inside a batch, and writes the others', (t) => {
    const s = fresh(t);
    // Reconciled on the description, so a second row with a used name is a create that fails.
    const run = new Run(s, 'Profile', ['Name', 'Description'], { keys: ['description'] }, { stopOnError: false });
    const body = Array.from({ length: 20 }, (_, k) => `${k === 9 ? 'P3' : `P${k}`},d${k}\n`).join('');
    const out = run.apply(run.resolve(body, 2));
    assert.deepEqual(statuses(out), Array.from({ length: 20 }, (_, k) => (k === 9 ? 'error' : 'created')), explain(out));
    assert.match(out.message[9] as string, /^name must be unique/);
    assert.equal(out.id[9], 0);
    assert.equal(new Set(Array.from(out.id).filter((id) => id > 0)).size, 19);
    assert.equal(run.applier.counts.created, 19);
    assert.equal(run.applier.counts.errors, 1);
    run.finish();
    const names = s.reader.prepare(`SELECT name FROM Profile WHERE description LIKE 'd%' ORDER BY id`).pluck().all();
    assert.deepEqual(names, Array.from({ length: 20 }, (_, k) => `P${k}`).filter((_, k) => k !== 9));
  });

  it('stops at that row when the run stops on errors: the rows after it are not applied or counted', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Profile', ['Name', 'Description'], { keys: ['description'] });
    const body = Array.from({ length: 20 }, (_, k) => `${k === 9 ? 'P3' : `P${k}`},d${k}\n`).join('');
    const out = run.apply(run.resolve(body, 2));
    assert.equal(out.count, 10);
    assert.deepEqual(statuses(out), [...Array<string>(9).fill('created'), 'error'], explain(out));
    assert.ok(out.stop);
    assert.equal(out.stop.line, 11);
    assert.deepEqual(run.applier.counts, { created: 9, updated: 0, unchanged: 0, deleted: 0, skipped: 0, errors: 1, warnings: 0 });
    // A chunk sent after the stop is not applied.
    assert.equal(run.apply(run.resolve('P50,d50\n', 22)).count, 0);
  });

  it('commits at the chunk size inside a run of creates', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Person', PERSON, { keys: ['email'] }, { chunkSize: 7 });
    const out = run.apply(run.resolve(persons(20), 2));
    assert.ok(statuses(out).every((st) => st === 'created'), explain(out));
    assert.equal(out.lastCommittedLine, 15, 'rows 1–14 (lines 2–15) in two commits');
    assert.equal(count(s.reader, `SELECT count(*) FROM Person`), 14);
    run.finish();
    assert.equal(count(s.reader, `SELECT count(*) FROM Person`), 20);
  });

  it('updates by id a person created earlier in the same chunk', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Person', ['id', ...PERSON], { keys: ['email'] });
    // The table is empty: the first create gets id 1, which the worker found nowhere.
    const out = run.apply(run.resolve(`,Doe,jd@x.org,111,IT\n,Roe,rr@x.org,,IT\n1,Doe,jd@x.org,222,IT\n`, 2));
    assert.deepEqual(statuses(out), ['created', 'created', 'updated'], explain(out));
    assert.equal(out.id[0], 1);
    assert.equal(out.id[2], 1);
    run.finish();
    assert.equal(s.reader.prepare(`SELECT phone FROM Person WHERE id = 1`).pluck().get(), '222');
  });

  it('records history in file order when creates wait for their batch and an update follows', (t) => {
    const s = fresh(t);
    const p = Number(s.writer.prepare(`INSERT INTO Person (name, email, phone, org_id) VALUES ('Old', 'old@x.org', '1', ?)`).run(s.it).lastInsertRowid);
    const run = new Run(s, 'Person', PERSON, { keys: ['email'] });
    const out = run.apply(run.resolve(`${persons(3)}Old,old@x.org,2,IT\n${persons(2, 3)}`, 2));
    assert.deepEqual(statuses(out), ['created', 'created', 'created', 'updated', 'created', 'created'], explain(out));
    const change = run.finish() as number;
    assert.deepEqual(
      history(s.reader, change).map((h) => [h.object_id, h.op]),
      [[out.id[0], 'create'], [out.id[1], 'create'], [out.id[2], 'create'], [p, 'update'], [out.id[4], 'create'], [out.id[5], 'create']],
    );
  });
});

describe('Applier: a run into an empty class, its key index deferred', () => {
  const KEY_INDEX = lookupIndexName('Person', ['email']);
  const hasIndex = (db: DB): boolean => count(db, `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?`, KEY_INDEX) === 1;

  it('builds the index before the first query on the class, and answers as it would with it', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Person', PERSON, { keys: ['email'], deferKeyIndex: true });
    const first = run.apply(run.resolve('Doe,jd@x.org,111,IT\nRoe,rr@x.org,,IT\n', 2));
    assert.deepEqual(statuses(first), ['created', 'created'], explain(first));
    assert.equal(hasIndex(s.writer), false, 'no query yet: still deferred');
    const second = run.apply(run.resolve('Doe,jd@x.org,222,IT\nPoe,pp@x.org,,IT\nRoe,rr@x.org,,IT\n', 4));
    assert.deepEqual(statuses(second), ['updated', 'created', 'unchanged'], explain(second));
    assert.equal(hasIndex(s.writer), true, 'the re-check of jd@x.org built it');
    assert.equal(second.id[0], first.id[0]);
    assert.equal(second.id[2], first.id[1]);
    run.finish();
    assert.deepEqual(s.reader.prepare(`SELECT email, phone FROM Person ORDER BY id`).all(), [
      { email: 'jd@x.org', phone: '222' },
      { email: 'rr@x.org', phone: '' },
      { email: 'pp@x.org', phone: '' },
    ]);
  });

  it('builds it with the commit that ends the run when nothing queried the class', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Person', PERSON, { keys: ['email'], deferKeyIndex: true });
    run.apply(run.resolve('A,a@x.org,,IT\nB,b@x.org,,IT\n', 2));
    assert.equal(hasIndex(s.writer), false);
    run.finish();
    assert.equal(hasIndex(s.reader), true);
    const plan = s.reader.prepare(`EXPLAIN QUERY PLAN SELECT id FROM Person WHERE email = ?`).all('a@x.org') as { detail: string }[];
    assert.match(plan.map((p) => p.detail).join(' '), new RegExp(KEY_INDEX));
  });

  it('sorts every index the commit builds with a quarter of the page cache and one helper thread, then restores both', (t) => {
    const s = fresh(t);
    s.writer.pragma('cache_size = -4000');
    const run = new Run(s, 'Person', PERSON, { keys: ['email'], deferKeyIndex: true });
    run.apply(run.resolve('A,a@x.org,,IT\nB,b@x.org,,IT\n', 2));
    // Each statement the end of the run executes, with the cache size and threads it ran under.
    const seen: { sql: string; cache: unknown; threads: unknown }[] = [];
    const exec = s.writer.exec.bind(s.writer);
    s.writer.exec = (sql: string) => {
      seen.push({ sql, cache: s.writer.pragma('cache_size', { simple: true }), threads: s.writer.pragma('threads', { simple: true }) });
      return exec(sql);
    };
    run.finish();
    const keyIndex = seen.find((e) => e.sql.includes(lookupIndexName('Person', ['email'])));
    const fpIndex = seen.find((e) => e.sql.includes('Person__fp'));
    assert.deepEqual(keyIndex && { cache: keyIndex.cache, threads: keyIndex.threads }, { cache: -1000, threads: 1 }, 'the key index');
    // With this few objects the fingerprint index is dropped, not built, under the same settings.
    assert.deepEqual(fpIndex && { cache: fpIndex.cache, threads: fpIndex.threads }, { cache: -1000, threads: 1 }, 'the fingerprint index');
    assert.equal(s.writer.pragma('cache_size', { simple: true }), -4000);
    assert.equal(s.writer.pragma('threads', { simple: true }), 0);
  });

  it('commits the rows, then builds the index in a transaction of its own while a checkpoint runs aside', (t) => {
    const s = fresh(t);
    const seen: string[] = [];
    const aside: CheckpointAside = () => {
      // The rows are committed and the index not built yet when the checkpoint starts.
      seen.push(`start: ${count(s.reader, `SELECT count(*) FROM Person`)} rows, index ${hasIndex(s.reader)}`);
      const other = new Database(s.path, { fileMustExist: true });
      const [r] = other.pragma('wal_checkpoint(PASSIVE)') as { busy: number; checkpointed: number }[];
      other.close();
      seen.push(`checkpointed ${r && r.busy === 0 && r.checkpointed > 0}`);
      return () => seen.push(`join: index ${hasIndex(s.reader)}`);
    };
    const run = new Run(s, 'Person', PERSON, { keys: ['email'], deferKeyIndex: true, checkpointAside: aside });
    run.apply(run.resolve('A,a@x.org,,IT\nB,b@x.org,,IT\n', 2));
    const change = run.finish() as number;
    assert.deepEqual(seen, ['start: 2 rows, index false', 'checkpointed true', 'join: index true']);
    assert.equal(changeRow(s.reader, change).outcome, 'committed');
    assert.equal(s.writer.pragma('wal_autocheckpoint', { simple: true }), 1000, 'the writer checkpoints again');
  });

  it('keeps the committed rows when the index cannot be built, for the next run to build it', (t) => {
    const s = fresh(t);
    s.writer.pragma('busy_timeout = 0');
    let other: DB | null = null;
    // Another writer takes the database between the two transactions.
    const aside: CheckpointAside = () => {
      other = new Database(s.path, { fileMustExist: true });
      other.exec('BEGIN IMMEDIATE');
      return () => {
        other?.exec('ROLLBACK');
        other?.close();
      };
    };
    const run = new Run(s, 'Person', PERSON, { keys: ['email'], deferKeyIndex: true, checkpointAside: aside });
    run.apply(run.resolve('A,a@x.org,,IT\nB,b@x.org,,IT\n', 2));
    const change = run.finish() as number;
    assert.ok(other, 'the checkpoint was started');
    assert.equal(changeRow(s.reader, change).outcome, 'committed');
    assert.equal(count(s.reader, `SELECT count(*) FROM Person`), 2);
    assert.equal(hasIndex(s.reader), false);
    assert.equal(s.writer.inTransaction, false);
  });

  it('with chunk commits, matches a key an earlier committed chunk created', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Person', PERSON, { keys: ['email'], deferKeyIndex: true }, { chunkSize: 1 });
    const a = run.apply(run.resolve('A,a@x.org,1,IT\n', 2));
    assert.equal(count(s.reader, `SELECT count(*) FROM Person`), 1, 'committed');
    const b = run.apply(run.resolve('A,a@x.org,2,IT\nB,b@x.org,,IT\n', 3));
    assert.deepEqual(statuses(b), ['updated', 'created'], explain(b));
    assert.equal(b.id[0], a.id[0]);
    run.finish();
    assert.equal(count(s.reader, `SELECT count(*) FROM Person`), 2);
    assert.equal(hasIndex(s.reader), true);
  });

  it('leaves nothing of a simulated run behind', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Person', PERSON, { keys: ['email'], deferKeyIndex: true }, { simulate: true });
    const out = run.apply(run.resolve('A,a@x.org,,IT\nA,a@x.org,9,IT\n', 2));
    assert.deepEqual(statuses(out), ['created', 'updated'], explain(out));
    assert.equal(run.finish(true, 'simulated'), null);
    assert.equal(count(s.reader, `SELECT count(*) FROM Person`), 0);
  });
});

describe('Applier: transactions', () => {
  const BODY = 'A,a@x.org,,IT\nB,b@x.org,,Nope\nC,c@x.org,,IT\n';

  it('stops at the first error row with its line, and finish(false) rolls back and records the change', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Person', PERSON, { keys: ['email'] });
    const out = run.apply(run.resolve(BODY, 2));
    assert.equal(out.count, 2);
    assert.deepEqual(statuses(out), ['created', 'error']);
    assert.ok(out.stop);
    assert.equal(out.stop.line, 3);
    assert.match(out.stop.message, /^line 3: column "Organization->Name": no Organization matches "Nope"; existing values: IT$/);
    assert.equal(out.lastCommittedLine, null);
    const change = run.finish(false, 'rolled back');
    assert.equal(typeof change, 'number');
    assert.equal(count(s.reader, `SELECT count(*) FROM Person`), 0);
    const c = changeRow(s.reader, change as number);
    assert.equal(c.outcome, 'rolled back');
    assert.equal(c.class, 'Person');
    assert.equal(c.action, 'upsert');
    assert.equal(c.user, 'tester');
    assert.equal(c.comment, 'unit');
    assert.equal(c.file, 'feed.csv');
    assert.equal(c.errors, 1);
    assert.ok(c.finished_at);
    assert.deepEqual(history(s.reader, change as number), []);
  });

  it('applies no chunk that arrives after one stopped the run', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Person', PERSON, { keys: ['email'] }, { chunkSize: 1 });
    const first = run.apply(run.resolve(BODY, 2));
    assert.equal(first.stop?.line, 3);
    const countsAtStop = { ...first.counts };
    // The main thread sends the next chunk before it hears of the stop.
    const next = run.apply(run.resolve('D,d@x.org,,IT\n', 5));
    assert.equal(next.count, 0);
    assert.equal(next.stop, null);
    assert.deepEqual(next.counts, countsAtStop);
    assert.equal(next.lastCommittedLine, first.lastCommittedLine);
    run.finish(false, 'rolled back');
    assert.deepEqual(s.reader.prepare(`SELECT email FROM Person`).pluck().all(), ['a@x.org'], 'the committed chunk only');
  });

  it('skips error rows and commits the others without stopOnError', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Person', PERSON, { keys: ['email'] }, { stopOnError: false });
    const out = run.apply(run.resolve(BODY, 2));
    assert.equal(out.count, 3);
    assert.equal(out.stop, null);
    assert.deepEqual(statuses(out), ['created', 'error', 'created']);
    assert.equal(out.id[1], 0);
    const change = run.finish(true, 'committed') as number;
    assert.deepEqual(s.reader.prepare(`SELECT email FROM Person ORDER BY id`).pluck().all(), ['a@x.org', 'c@x.org']);
    const c = changeRow(s.reader, change);
    assert.equal(c.outcome, 'committed');
    assert.equal(c.created, 2);
    assert.equal(c.errors, 1);
    assert.equal(c.lines, 3);
  });

  it('commits every chunkSize rows and keeps the committed chunks when the run stops', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Person', PERSON, { keys: ['email'] }, { chunkSize: 2 });
    assert.equal(run.applier.lastCommittedLine, 0);
    const first = run.resolve('A,a@x.org,,IT\nB,b@x.org,,IT\nC,c@x.org,,IT\n', 2);
    const second = run.resolve('D,d@x.org,,IT\nE,e@x.org,,IT\nF,f@x.org,,Nope\n', 5);
    const a = run.apply(first);
    assert.equal(a.lastCommittedLine, 3);
    assert.equal(count(s.reader, `SELECT count(*) FROM Person`), 2, 'the reader sees the first committed chunk');
    const b = run.apply(second);
    assert.deepEqual(statuses(b), ['created', 'created', 'error']);
    assert.equal(b.lastCommittedLine, 5);
    assert.equal(b.stop?.line, 7);
    assert.equal(count(s.reader, `SELECT count(*) FROM Person`), 4);
    const change = run.finish(false, 'rolled back') as number;
    assert.equal(run.applier.lastCommittedLine, 5);
    assert.deepEqual(s.reader.prepare(`SELECT email FROM Person ORDER BY id`).pluck().all(), ['a@x.org', 'b@x.org', 'c@x.org', 'd@x.org']);
    // one change record for the run, created in the first chunk and kept
    assert.equal(count(s.reader, `SELECT count(*) FROM _sluice_change WHERE class = 'Person'`), 1);
    assert.equal(changeRow(s.reader, change).outcome, 'rolled back');
    assert.deepEqual(history(s.reader, change).map((h) => h.op), ['create', 'create', 'create', 'create']);
  });

  it('records the lines applied so far at each chunk commit', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Person', PERSON, { keys: ['email'] }, { chunkSize: 3 });
    run.apply(run.resolve('A,a@x.org,,IT\nB,b@x.org,,IT\n', 2));
    run.apply(run.resolve('C,c@x.org,,IT\nD,d@x.org,,IT\n', 4));
    const change = run.applier.changeId;
    assert.equal(changeRow(s.reader, change).lines, 3);
    assert.equal(changeRow(s.reader, change).outcome, 'running');
    run.finish();
    assert.equal(changeRow(s.reader, change).lines, 4);
    assert.equal(changeRow(s.reader, change).outcome, 'committed');
  });

  it('keeps everything in one transaction without chunkSize', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Person', PERSON, { keys: ['email'] });
    const out = run.apply(run.resolve('A,a@x.org,,IT\nB,b@x.org,,IT\n', 2));
    assert.equal(out.lastCommittedLine, null);
    assert.equal(count(s.reader, `SELECT count(*) FROM Person`), 0);
    run.finish();
    assert.equal(count(s.reader, `SELECT count(*) FROM Person`), 2);
  });

  it('rolls back a simulated run, even with chunkSize', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Person', PERSON, { keys: ['email'] }, { simulate: true, chunkSize: 1 });
    const out = run.apply(run.resolve('A,a@x.org,,IT\nB,b@x.org,,IT\n', 2));
    assert.deepEqual(statuses(out), ['created', 'created']);
    assert.equal(run.finish(true, 'simulated'), null);
    assert.equal(count(s.reader, `SELECT count(*) FROM Person`), 0);
  });
});

describe('Applier: history', () => {
  it('writes a create\'s history in one form, whether all its attributes are set or some are empty', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Person', PERSON, { keys: ['email'] });
    const out = run.apply(run.resolve('"O""Brien \\ é\t",jd@x.org,111,IT\n"O""Brien \\ é\t",rr@x.org,,IT\n', 2));
    assert.deepEqual(statuses(out), ['created', 'created'], explain(out));
    const change = run.finish() as number;
    const raw = [...changeEntries(s.reader, s.model, change)].map((h) => h.changes);
    const name = 'O"Brien \\ é\t';
    assert.deepEqual(raw, [
      JSON.stringify({ name, status: 'active', org_id: s.it, email: 'jd@x.org', phone: '111', notify: 'yes' }),
      JSON.stringify({ name, status: 'active', org_id: s.it, email: 'rr@x.org', notify: 'yes' }),
    ]);
  });

  it('records old and new values for create, update and delete', (t) => {
    const s = fresh(t);
    const create = new Run(s, 'Person', PERSON, { keys: ['email'] });
    const c1 = create.apply(create.resolve('Doe,jd@x.org,111,IT\n', 2));
    const id = c1.id[0] as number;
    const change1 = create.finish() as number;
    assert.deepEqual(history(s.reader, change1), [
      {
        object_id: id,
        op: 'create',
        // a create lists the new values (absent attributes get their defaults; empty values are not listed)
        changes: { name: 'Doe', status: 'active', org_id: s.it, email: 'jd@x.org', phone: '111', notify: 'yes' },
      },
    ]);

    const update = new Run(s, 'Person', PERSON, { keys: ['email'] });
    const u = update.apply(update.resolve('Doe,jd@x.org,222,IT\n', 2));
    assert.deepEqual(statuses(u), ['updated']);
    const change2 = update.finish() as number;
    assert.deepEqual(history(s.reader, change2), [{ object_id: id, op: 'update', changes: { phone: ['111', '222'] } }]);

    const remove = new Run(s, 'Person', ['Email'], { action: 'delete', keys: ['email'] });
    const d = remove.apply(remove.resolve('jd@x.org\n', 2));
    assert.deepEqual(statuses(d), ['deleted'], explain(d));
    assert.equal(d.id[0], id);
    const change3 = remove.finish() as number;
    const h = history(s.reader, change3);
    assert.equal(h.length, 1);
    assert.equal(h[0]?.op, 'delete');
    assert.equal(h[0]?.object_id, id);
    // a delete lists the old values
    assert.deepEqual(h[0]?.changes.email, 'jd@x.org');
    assert.deepEqual(h[0]?.changes.name, 'Doe');
    assert.deepEqual(h[0]?.changes.org_id, s.it);
    assert.equal(count(s.reader, `SELECT count(*) FROM Person`), 0);
    assert.equal(changeRow(s.reader, change3).deleted, 1);
    // the create still lists the values it wrote, after the update and the delete
    assert.deepEqual(history(s.reader, change1), [
      { object_id: id, op: 'create', changes: { name: 'Doe', status: 'active', org_id: s.it, email: 'jd@x.org', phone: '111', notify: 'yes' } },
    ]);
  });

  it('stores a bulk create as one range and reads each object back as it was created', (t) => {
    const s = fresh(t);
    const create = new Run(s, 'Person', PERSON, { keys: ['email'] });
    const c = create.apply(create.resolve('Doe,jd@x.org,111,IT\nRoe,rr@x.org,,IT\nPoe,ep@x.org,333,IT\n', 2));
    assert.deepEqual(statuses(c), ['created', 'created', 'created'], explain(c));
    const [jd, rr, ep] = Array.from(c.id) as [number, number, number];
    const change1 = create.finish() as number;
    const rows = s.reader.prepare(`SELECT object_id, last_object_id, op, changes FROM _sluice_history WHERE change_id = ?`).all(change1);
    assert.deepEqual(rows, [{ object_id: jd, last_object_id: ep, op: 'create', changes: JSON.stringify(['name', 'status', 'org_id', 'email', 'phone', 'notify']) }]);
    const created = [
      { object_id: jd, op: 'create', changes: { name: 'Doe', status: 'active', org_id: s.it, email: 'jd@x.org', phone: '111', notify: 'yes' } },
      { object_id: rr, op: 'create', changes: { name: 'Roe', status: 'active', org_id: s.it, email: 'rr@x.org', notify: 'yes' } },
      { object_id: ep, op: 'create', changes: { name: 'Poe', status: 'active', org_id: s.it, email: 'ep@x.org', phone: '333', notify: 'yes' } },
    ];
    assert.deepEqual(history(s.reader, change1), created);

    // Later runs: two updates of one object, the last object deleted (its id is not used again), one removed outside Sluice.
    for (const phone of ['222', '']) {
      const update = new Run(s, 'Person', PERSON, { keys: ['email'] });
      assert.deepEqual(statuses(update.apply(update.resolve(`Doe,jd@x.org,${phone},IT\nRoe,rr@x.org,5${phone},IT\n`, 2))), ['updated', 'updated']);
      update.finish();
    }
    const remove = new Run(s, 'Person', ['Email'], { action: 'delete', keys: ['email'] });
    assert.deepEqual(statuses(remove.apply(remove.resolve('ep@x.org\n', 2))), ['deleted']);
    remove.finish();
    const again = new Run(s, 'Person', PERSON, { keys: ['email'] });
    const a = again.apply(again.resolve('Zoe,zz@x.org,999,IT\n', 2));
    assert.ok((a.id[0] as number) > ep, 'the id of the deleted object is not used again');
    again.finish();
    assert.deepEqual(history(s.reader, change1), created);

    s.writer.prepare(`DELETE FROM Person WHERE id = ?`).run(rr);
    assert.deepEqual(history(s.reader, change1)[1], { object_id: rr, op: 'create', changes: {} }, 'values gone with the object');
  });

  it('writes per-object creates where a range could not be read back (passwords, link sets)', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'UserLocal', ['Login', 'Password'], { keys: ['login'] });
    const out = run.apply(run.resolve('alice,secret-1\nbob,secret-2\n', 2));
    assert.deepEqual(statuses(out), ['created', 'created'], explain(out));
    const change = run.finish() as number;
    assert.equal(count(s.reader, `SELECT count(*) FROM _sluice_history WHERE change_id = ? AND last_object_id IS NULL`, change), 2);
    assert.deepEqual(
      history(s.reader, change).map((h) => h.changes.password),
      [MASK, MASK],
    );
  });

  it('keeps file order across creates and updates in one chunk, each create with its values when created', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Person', PERSON, { keys: ['email'] });
    const out = run.apply(run.resolve('Doe,jd@x.org,111,IT\nRoe,rr@x.org,,IT\nDoe,jd@x.org,222,IT\nPoe,ep@x.org,333,IT\nRoe,rr@x.org,444,IT\n', 2));
    assert.deepEqual(statuses(out), ['created', 'created', 'updated', 'created', 'updated'], explain(out));
    const [jd, rr, , ep] = Array.from(out.id);
    const change = run.finish() as number;
    assert.deepEqual(history(s.reader, change), [
      { object_id: jd, op: 'create', changes: { name: 'Doe', status: 'active', org_id: s.it, email: 'jd@x.org', phone: '111', notify: 'yes' } },
      { object_id: rr, op: 'create', changes: { name: 'Roe', status: 'active', org_id: s.it, email: 'rr@x.org', notify: 'yes' } },
      { object_id: jd, op: 'update', changes: { phone: ['111', '222'] } },
      { object_id: ep, op: 'create', changes: { name: 'Poe', status: 'active', org_id: s.it, email: 'ep@x.org', phone: '333', notify: 'yes' } },
      { object_id: rr, op: 'update', changes: { phone: ['', '444'] } },
    ]);
  });

  it('writes no history for unchanged rows', (t) => {
    const s = fresh(t);
    s.writer.prepare(`INSERT INTO Person (name, email, phone, org_id, status, notify) VALUES ('Doe', 'jd@x.org', '111', ?, 'active', 'yes')`).run(s.it);
    const run = new Run(s, 'Person', PERSON, { keys: ['email'] });
    const out = run.apply(run.resolve('Doe,jd@x.org,111,IT\n', 2));
    assert.deepEqual(statuses(out), ['unchanged'], explain(out));
    const change = run.finish() as number;
    assert.deepEqual(history(s.reader, change), []);
    assert.equal(changeRow(s.reader, change).unchanged, 1);
  });
});

describe('Applier: actions and row errors', () => {
  it('refuses to delete an object still referenced, naming the referrers', (t) => {
    const s = fresh(t);
    const empty = Number(s.writer.prepare(`INSERT INTO Organization (name) VALUES ('Empty')`).run().lastInsertRowid);
    const person = Number(s.writer.prepare(`INSERT INTO Person (name, org_id) VALUES ('Doe', ?)`).run(s.it).lastInsertRowid);
    const location = Number(s.writer.prepare(`INSERT INTO Location (name, org_id) VALUES ('Paris', ?)`).run(s.it).lastInsertRowid);
    const run = new Run(s, 'Organization', ['Name'], { action: 'delete' }, { stopOnError: false });
    const out = run.apply(run.resolve('IT\nEmpty\nGhost\n', 2));
    assert.deepEqual(statuses(out), ['error', 'deleted', 'skipped'], explain(out));
    const message = out.message[0] as string;
    assert.ok(message.startsWith(`cannot delete Organization ${s.it}: still referenced by `), message);
    assert.ok(message.includes(`Location.org_id of ${location}`), message);
    assert.ok(message.includes(`Person.org_id of ${person}`), message);
    assert.equal(out.id[1], empty);
    assert.equal(out.message[2], 'no matching Organization to delete');
    run.finish();
    assert.deepEqual(s.reader.prepare(`SELECT name FROM Organization ORDER BY id`).pluck().all(), ['IT']);
  });

  it('names link-set referrers too', (t) => {
    const s = fresh(t);
    const admin = s.writer.prepare(`SELECT id FROM Profile WHERE name = 'Administrator'`).pluck().get() as number;
    const user = Number(s.writer.prepare(`INSERT INTO UserLocal (login) VALUES ('root')`).run().lastInsertRowid);
    s.writer.prepare(`INSERT INTO UserLocal_profile_list (from_id, to_id) VALUES (?, ?)`).run(user, admin);
    const run = new Run(s, 'Profile', ['Name'], { action: 'delete' });
    const out = run.apply(run.resolve('Administrator\n', 2));
    assert.deepEqual(statuses(out), ['error']);
    assert.ok(out.message[0]?.includes(`UserLocal.profile_list of ${user}`), out.message[0] ?? '');
  });

  it('skips existing objects with --action insert and missing ones with --action update', (t) => {
    const s = fresh(t);
    s.writer.prepare(`INSERT INTO Person (name, email, org_id) VALUES ('Doe', 'jd@x.org', ?)`).run(s.it);
    const insert = new Run(s, 'Person', PERSON, { keys: ['email'], action: 'insert' });
    const a = insert.apply(insert.resolve('Doe,jd@x.org,1,IT\nNew,new@x.org,2,IT\n', 2));
    assert.deepEqual(statuses(a), ['skipped', 'created'], explain(a));
    assert.match(a.message[0] as string, /already exists \(--action insert\)/);
    insert.finish();
    const update = new Run(s, 'Person', PERSON, { keys: ['email'], action: 'update' });
    const b = update.apply(update.resolve('Doe,jd@x.org,9,IT\nGhost,ghost@x.org,9,IT\n', 2));
    assert.deepEqual(statuses(b), ['updated', 'skipped'], explain(b));
    assert.equal(b.message[1], 'no matching Person to update');
    update.finish();
    assert.equal(s.reader.prepare(`SELECT phone FROM Person WHERE email = 'jd@x.org'`).pluck().get(), '9');
    assert.equal(count(s.reader, `SELECT count(*) FROM Person WHERE email = 'ghost@x.org'`), 0);
  });

  it('reports a missing mandatory attribute on create', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Person', ['Last Name', 'Email'], { keys: ['email'] }, { stopOnError: false });
    const out = run.apply(run.resolve('Doe,jd@x.org\n', 2));
    assert.deepEqual(statuses(out), ['error']);
    assert.match(out.message[0] as string, /missing mandatory org_id \(Organization\)/);
  });

  it('reports an ambiguous reconciliation', (t) => {
    const s = fresh(t);
    s.writer.prepare(`INSERT INTO Person (name, email, org_id) VALUES ('A', 'same@x.org', ?), ('B', 'same@x.org', ?)`).run(s.it, s.it);
    const run = new Run(s, 'Person', PERSON, { keys: ['email'] }, { stopOnError: false });
    const out = run.apply(run.resolve('C,same@x.org,1,IT\n', 2));
    assert.deepEqual(statuses(out), ['error']);
    assert.match(out.message[0] as string, /^ambiguous reconciliation: 2 objects match/);
  });
});

describe('Applier: passwords', () => {
  const HEADER = ['Login', 'Password'];

  it('stores a salted hash, never the password, and an identical password is unchanged', (t) => {
    const s = fresh(t);
    const create = new Run(s, 'UserLocal', HEADER, { keys: ['login'] });
    const a = create.apply(create.resolve('jdoe,secret\njdoe,secret\n', 2));
    assert.deepEqual(statuses(a), ['created', 'unchanged'], explain(a));
    const change1 = create.finish() as number;
    const stored = s.reader.prepare(`SELECT password FROM UserLocal WHERE login = 'jdoe'`).pluck().get() as string;
    assert.notEqual(stored, 'secret');
    assert.match(stored, /^scrypt\$/);
    assert.ok(verifyPassword('secret', stored));
    const h1 = history(s.reader, change1);
    assert.deepEqual(h1[0]?.changes.password, MASK);
    assert.ok(!JSON.stringify(h1).includes('secret'));

    const same = new Run(s, 'UserLocal', HEADER, { keys: ['login'] });
    const b = same.apply(same.resolve('jdoe,secret\n', 2));
    assert.deepEqual(statuses(b), ['unchanged'], explain(b));
    same.finish();
    assert.equal(s.reader.prepare(`SELECT password FROM UserLocal WHERE login = 'jdoe'`).pluck().get(), stored);

    const other = new Run(s, 'UserLocal', HEADER, { keys: ['login'] });
    const c = other.apply(other.resolve('jdoe,n3w-pass\n', 2));
    assert.deepEqual(statuses(c), ['updated'], explain(c));
    assert.equal(c.changed[0], 'password');
    const change3 = other.finish() as number;
    const updated = s.reader.prepare(`SELECT password FROM UserLocal WHERE login = 'jdoe'`).pluck().get() as string;
    assert.ok(verifyPassword('n3w-pass', updated));
    assert.ok(!verifyPassword('secret', updated));
    // History keeps the hashes (for an undo), never the passwords; sluice history masks them.
    assert.deepEqual(history(s.reader, change3), [{ object_id: a.id[0], op: 'update', changes: { password: [stored, updated] } }]);
    assert.ok(!JSON.stringify(history(s.reader, change3)).includes('n3w-pass'));
  });
});

describe('Applier: link sets', () => {
  it('creates and replaces a link set as a whole', (t) => {
    const s = fresh(t);
    const ids = Object.fromEntries((s.reader.prepare(`SELECT name, id FROM Profile`).all() as { name: string; id: number }[]).map((r) => [r.name, r.id]));
    const header = ['Login', 'Profiles'];
    const create = new Run(s, 'UserLocal', header, { keys: ['login'] });
    const a = create.apply(create.resolve('support,profileid->name:Configuration Manager|profileid->name:Change Supervisor\n', 2));
    assert.deepEqual(statuses(a), ['created'], explain(a));
    create.finish();
    const members = (): number[] => s.reader.prepare(`SELECT to_id FROM UserLocal_profile_list WHERE from_id = ? ORDER BY to_id`).pluck().all(a.id[0]) as number[];
    assert.deepEqual(members(), [ids['Configuration Manager'], ids['Change Supervisor']].sort((x, y) => (x as number) - (y as number)));
    const replace = new Run(s, 'UserLocal', header, { keys: ['login'] });
    const b = replace.apply(replace.resolve('support,Portal user\n', 2));
    assert.deepEqual(statuses(b), ['updated'], explain(b));
    assert.equal(b.changed[0], 'profile_list');
    replace.finish();
    assert.deepEqual(members(), [ids['Portal user']]);
  });
});

describe('Applier: what the writer sends the run thread', () => {
  it('keeps the counts, the stop and the commit point, and none of the per-row arrays when the report keeps no rows', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Person', PERSON, { keys: ['email'] });
    const out = run.apply(run.resolve('A,a@x.org,,IT\nB,b@x.org,,Nope\nC,c@x.org,,IT\n', 2));
    const sent = replyOf(out);
    assert.deepEqual(
      { seq: sent.seq, count: sent.count, hits: sent.hits, stop: sent.stop, lastCommittedLine: sent.lastCommittedLine, counts: sent.counts, block: sent.block },
      { seq: out.seq, count: 2, hits: 0, stop: out.stop, lastCommittedLine: null, counts: out.counts, block: null },
    );
    assert.equal(sent.counts.created, 1);
    assert.equal(sent.counts.errors, 1);
    assert.deepEqual(Object.keys(sent).filter((k) => ['status', 'id', 'message', 'changed', 'rows'].includes(k)), []);
    // The applier's own result is left whole.
    assert.deepEqual(STATUS_NAMES[out.status[1] as number], 'error');
  });

  it('sends the rows as one spool block when the report keeps them', (t) => {
    const s = fresh(t);
    const run = new Run(s, 'Person', PERSON, { keys: ['email'] });
    run.apply(run.resolve('A,a@x.org,,IT\n', 2));
    const out = run.apply(run.resolve('A,a@x.org,,IT\nA2,a@x.org,x,IT\nB,b@x.org,,Nope\n', 3), true);
    const sent = replyOf(out);
    assert.ok(sent.block !== null);
    const rows = decodeBlock(Buffer.from(sent.block));
    assert.deepEqual(
      rows.map((r) => [r.line, r.status, r.id === null ? null : typeof r.id, r.changed ?? null, r.message === undefined ? null : r.message.slice(0, 25)]),
      [
        [3, 'unchanged', 'number', null, null],
        [4, 'updated', 'number', ['name', 'phone'], null],
        [5, 'error', null, null, 'column "Organization->Nam'],
      ],
    );
  });
});
