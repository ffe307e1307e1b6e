/** Fixture helpers for the integration tests: prepared databases, CSV building, report parsing. */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync } from 'node:fs';
import { after } from 'node:test';
import { parse } from 'csv-parse/sync';
import { type CliResult, type Sandbox, historyEntries, historyEntriesSql, query, runCli, sandbox } from './cli.js';

/** The two organizations iTop's documentation examples expect. */
export const ITOP_ORGS_CSV = 'Name\nMy Company/Department\nIT Department\n';

/** The Person example of iTop's CSV import documentation (SPEC §1), imported with --keys Email. */
export const ITOP_PERSON_CSV = `Last Name,Status,Organization->Name,Email,Phone,Notification,Function,First Name
"Flaubert","Active","IT Department","","","yes","","Gustave"
`;

/** Quote a cell the way a careful CSV writer would (only when needed). */
export function csvCell(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** CSV text from rows of cells, LF line breaks, trailing line break. */
export function csvText(rows: readonly (readonly string[])[]): string {
  return rows.map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
}

/** In a run's arguments, where the test puts the path of a log file (`--log {log}`) of its choosing. */
export const LOG = '{log}';

/** Run `sluice import` against the sandbox database with progress output off. */
export function importRun(sb: Sandbox, cls: string, file: string, args: string[] = [], opts: { input?: string | Buffer } = {}): Promise<CliResult> {
  return runCli(['import', '--db', sb.db, '--class', cls, '--file', file, '--progress', 'none', ...args], opts);
}

/** Write `content` to `name` in the sandbox, then import it. */
export function importText(sb: Sandbox, cls: string, name: string, content: string | Buffer, args: string[] = []): Promise<CliResult> {
  return importRun(sb, cls, sb.file(name, content), args);
}

/** Import and assert the exit code, showing the output when it is not the expected one. */
export async function importOk(sb: Sandbox, cls: string, name: string, content: string | Buffer, args: string[] = [], code = 0): Promise<CliResult> {
  const r = await importText(sb, cls, name, content, args);
  assert.equal(r.code, code, `sluice import --class ${cls} ${args.join(' ')} exited ${String(r.code)}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r;
}

export interface Template {
  sandbox: Sandbox;
  /** a fresh sandbox whose database is a copy of the template's */
  fresh(): Sandbox;
}

export interface Step {
  cls: string;
  content: string;
  args?: string[];
}

/** A database prepared once by importing `steps` in order; each test gets its own copy. */
export async function makeTemplate(steps: readonly Step[]): Promise<Template> {
  const t = sandbox();
  let n = 0;
  try {
    for (const s of steps) await importOk(t, s.cls, `template-${n++}.csv`, s.content, s.args ?? []);
  } catch (err) {
    t.cleanup();
    throw err;
  }
  return {
    sandbox: t,
    fresh() {
      const sb = sandbox();
      copyDatabase(t.db, sb.db);
      return sb;
    },
  };
}

/** Copy an SQLite database's files (its WAL too, when there is one) to `to`. */
export function copyDatabase(from: string, to: string): void {
  for (const ext of ['', '-wal', '-shm']) if (existsSync(from + ext)) copyFileSync(from + ext, to + ext);
}

/**
 * Databases set up by the same commands, made once per test file: the first time a test asks
 * for `key`, `make` runs on a template sandbox; every test that asks for it gets a copy of
 * that database in its own sandbox, holding what the commands wrote, byte for byte, and the
 * value `make` returned (change ids, say). Call at the top of a test file.
 */
export function preparedDatabases(): <T>(sb: Sandbox, key: string, make: (template: Sandbox) => Promise<T>) => Promise<T> {
  const made = new Map<string, Promise<{ template: Sandbox; value: unknown }>>();
  after(async () => {
    for (const t of made.values()) await t.then(({ template }) => template.cleanup(), () => undefined);
  });
  return async <T>(sb: Sandbox, key: string, make: (template: Sandbox) => Promise<T>): Promise<T> => {
    let t = made.get(key);
    if (t === undefined) {
      const template = sandbox();
      t = make(template).then((value) => ({ template, value }));
      made.set(key, t);
    }
    const { template, value } = await t;
    copyDatabase(template.db, sb.db);
    return value as T;
  };
}

/** The CSV table of a `--output details` report (everything after the `#` summary lines). */
export function detailsTable(stdout: string): string {
  const at = stdout.indexOf('line,status,id,message');
  assert.ok(at >= 0, `no details table in:\n${stdout}`);
  return stdout.slice(at);
}

export type DetailsRow = Record<string, string>;

const REPORT_COLUMNS = ['line', 'status', 'id', 'message'];

/**
 * The details table parsed into objects: `line`, `status`, `id`, `message`, then the input
 * columns by name (`input:<name>` for an input column named like a report column, e.g. id).
 */
export function detailsOf(stdout: string): DetailsRow[] {
  const records = parse(detailsTable(stdout), { relax_column_count: false }) as string[][];
  const header = records[0] as string[];
  assert.deepEqual(header.slice(0, 4), REPORT_COLUMNS);
  const keys = header.map((h, i) => (i >= 4 && REPORT_COLUMNS.includes(h) ? `input:${h}` : h));
  return records.slice(1).map((rec) => Object.fromEntries(keys.map((k, i) => [k, rec[i] as string])));
}

/** The details row of a given physical line. */
export function rowAt(rows: readonly DetailsRow[], line: number): DetailsRow {
  const r = rows.find((x) => x.line === String(line));
  assert.ok(r, `no details row for line ${line} in ${JSON.stringify(rows)}`);
  return r;
}

export function countOf(db: string, table: string): number {
  return (query<{ n: number }>(db, `SELECT count(*) AS n FROM "${table}"`)[0] as { n: number }).n;
}

export function maxChangeId(db: string): number {
  return (query<{ m: number | null }>(db, 'SELECT max(id) AS m FROM _sluice_change')[0] as { m: number | null }).m ?? 0;
}

/** What "nothing written" is checked against: object tables and history. */
export interface Snapshot {
  counts: Record<string, number>;
  history: number;
  changes: number;
  persons: unknown[];
}

const WATCHED = ['Organization', 'Location', 'Person', 'Team', 'UserLocal', 'Server', 'Software', 'Profile', 'UserLocal_profile_list'];

export function snapshot(db: string): Snapshot {
  const counts: Record<string, number> = {};
  for (const t of WATCHED) counts[t] = countOf(db, t);
  return { counts, history: historyCount(db), changes: maxChangeId(db), persons: query(db, 'SELECT * FROM Person ORDER BY id') };
}

/**
 * Nothing was written since `before`: same objects, no history, and no new change
 * that committed objects (a stopped run may record its outcome).
 */
export function assertNothingWritten(db: string, before: Snapshot): void {
  const after = snapshot(db);
  assert.deepEqual(after.counts, before.counts, 'object counts changed');
  assert.equal(after.history, before.history, 'history rows were written');
  assert.deepEqual(after.persons, before.persons, 'Person rows changed');
  const committed = query(db, `SELECT * FROM _sluice_change WHERE id > ? AND outcome IN ('committed') AND (created + updated + deleted) > 0`, before.changes);
  assert.deepEqual(committed, [], 'a new change committed objects');
}

/** A usage error writes nothing at all, not even a change record. */
export function assertUntouched(db: string, before: Snapshot): void {
  assertNothingWritten(db, before);
  assert.equal(maxChangeId(db), before.changes, 'a change record was written');
}

/** Bad input is reported in a sentence, never with a stack trace. */
export function assertNoStack(stderr: string): void {
  assert.ok(!/\n\s+at /.test(stderr) && !stderr.includes('    at '), `stack trace on stderr:\n${stderr}`);
}

export function personByEmail(db: string, email: string): Record<string, unknown> {
  const rows = query(db, 'SELECT * FROM Person WHERE email = ?', email);
  assert.equal(rows.length, 1, `expected one Person with email ${email}, found ${rows.length}`);
  return rows[0] as Record<string, unknown>;
}

export function idOf(db: string, table: string, column: string, value: unknown): number {
  const rows = query<{ id: number }>(db, `SELECT id FROM "${table}" WHERE "${column}" = ?`, value);
  assert.equal(rows.length, 1, `expected one ${table} with ${column} = ${String(value)}, found ${rows.length}`);
  return (rows[0] as { id: number }).id;
}

/** A history entry; `changes` is `{attr: [old, new]}` for an update, `{attr: value}` for a create or delete. */
export interface HistoryRow {
  change_id: number;
  class: string;
  object_id: number;
  op: string;
  changes: Record<string, unknown>;
}

export function historyOf(db: string, changeId: number): HistoryRow[] {
  return historyEntries(db, changeId, changeId).map((h) => ({ ...h, changes: JSON.parse(h.changes) as Record<string, unknown> }));
}

/** History entries in the database, one per object and change (a range row counts each of its objects). */
export function historyCount(db: string): number {
  return (query<{ n: number }>(db, historyEntriesSql())[0] as { n: number }).n;
}

/** The attribute codes an `updated` row lists in the details message (`changed: a, b`). */
export function changedOf(row: DetailsRow): string[] {
  const m = /^changed: ([^;]*)/.exec(row.message ?? '');
  return m ? (m[1] as string).split(',').map((s) => s.trim()).sort() : [];
}

/** [line, status] of every row of a details report. */
export function statusesOf(rows: readonly DetailsRow[]): [number, string][] {
  return rows.map((r) => [Number(r.line), r.status as string]);
}
