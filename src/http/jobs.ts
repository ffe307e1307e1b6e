/**
 * The job table of `sluice serve` (SPEC §6): one row per upload, in order of arrival.
 *
 * It lives in an SQLite database of its own, `jobs.db` in the spool directory (beside an
 * SQLite data database, or where --spool says), not in the data database itself: a job's
 * import holds that database's write lock for its whole transaction (a million-row file is
 * one transaction by default), and uploads must still be queued, and cancelled, meanwhile.
 * Whichever the data store, the job table is the service's own local state. Created on first use.
 */
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SluiceError } from '../base/errors.js';
import { TokenStore } from './tokens.js';

type DB = Database.Database;

export type JobState = 'queued' | 'processing' | 'done' | 'error';

/** The counts a finished job reports, in SPEC §6's order. */
export interface JobResults {
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
  skipped: number;
  errors: number;
}

export interface Job {
  id: number;
  token: string;
  state: JobState;
  /** the import options as the engine takes them, JSON (the input is the spool file) */
  options: string;
  fileName: string;
  bytes: number;
  sha256: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** what `sluice import` would have exited with */
  exitCode: number | null;
  message: string | null;
  results: JobResults | null;
  /** the run's summary, JSON: the log needs its columns */
  summary: string | null;
  /** the run's change record in the data database, once the run holds it */
  changeId: number | null;
}

/** How a job the server died in ended, as far as the data database tells. */
export interface OrphanEnd {
  message: string;
  results: JobResults;
}

export const JOB_DDL = [
  `CREATE TABLE IF NOT EXISTS _sluice_job (
    id INTEGER PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    options TEXT NOT NULL,
    file_name TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    exit_code INTEGER,
    message TEXT,
    results TEXT,
    summary TEXT,
    change_id INTEGER
  )`,
  `CREATE INDEX IF NOT EXISTS _sluice_job__state ON _sluice_job(state, id)`,
  // The server that runs the jobs: one per database, or the second would take the first's running job for an orphan.
  `CREATE TABLE IF NOT EXISTS _sluice_job_server (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    since TEXT NOT NULL
  )`,
];

/** Whether a process on this host still runs (one on another host is assumed to). */
function alive(pid: number, host: string): boolean {
  if (host !== hostname()) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface JobRow {
  id: number;
  token: string;
  state: JobState;
  options: string;
  file_name: string;
  bytes: number;
  sha256: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  message: string | null;
  results: string | null;
  summary: string | null;
  change_id: number | null;
}

function fromRow(r: JobRow): Job {
  return {
    id: r.id,
    token: r.token,
    state: r.state,
    options: r.options,
    fileName: r.file_name,
    bytes: r.bytes,
    sha256: r.sha256,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    exitCode: r.exit_code,
    message: r.message,
    results: r.results === null ? null : (JSON.parse(r.results) as JobResults),
    summary: r.summary,
    changeId: r.change_id,
  };
}

export const NO_RESULTS: JobResults = { created: 0, updated: 0, deleted: 0, unchanged: 0, skipped: 0, errors: 0 };

/** The spool directory of a database: uploads, job logs and the job table. */
export function spoolDirOf(dbPath: string): string {
  return `${dbPath}.spool`;
}

export class JobStore {
  private readonly db: DB;
  /** the bearer tokens, kept in the same database (tokens.ts says why not in the data one) */
  readonly tokens: TokenStore;
  private byToken: Database.Statement | null = null;
  private queuedCount: Database.Statement | null = null;

  /**
   * `option` names the spool in messages when it was given (`--spool`); without it the spool
   * is the database file's F.spool, and messages name `--db`.
   */
  constructor(
    readonly dir: string,
    option: string | null = null,
  ) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      this.db = new Database(join(dir, 'jobs.db'), { timeout: 10_000 });
      this.db.pragma('journal_mode = WAL');
      for (const sql of JOB_DDL) this.db.exec(sql);
      // A job table made before jobs named their change record.
      const columns = this.db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('_sluice_job') as string[];
      if (!columns.includes('change_id')) this.db.exec('ALTER TABLE _sluice_job ADD COLUMN change_id INTEGER');
      this.tokens = new TokenStore(this.db);
    } catch (err) {
      throw new SluiceError('E_DB', `${option === null ? '' : `${option}: `}cannot open the job table in ${dir}: ${(err as Error).message}`, { option: option === null ? '--db' : '--spool', cause: err });
    }
  }

  close(): void {
    this.db.prepare('DELETE FROM _sluice_job_server WHERE pid = ? AND host = ?').run(process.pid, hostname());
    this.db.close();
  }

  /** Become the one server of these jobs (`shown`: the database, as the refusal names it); a server whose process is gone (killed) is taken over. */
  claim(shown: string): void {
    this.db.transaction(() => {
      const other = this.db.prepare('SELECT pid, host, since FROM _sluice_job_server WHERE id = 1').get() as { pid: number; host: string; since: string } | undefined;
      if (other && !(other.pid === process.pid && other.host === hostname()) && alive(other.pid, other.host)) {
        throw new SluiceError('E_USAGE', `another sluice serve (process ${other.pid} on ${other.host}, since ${other.since}) serves ${shown} from the spool ${this.dir}; stop it first`, { option: '--db' });
      }
      this.db
        .prepare('INSERT INTO _sluice_job_server (id, pid, host, since) VALUES (1, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET pid = excluded.pid, host = excluded.host, since = excluded.since')
        .run(process.pid, hostname(), new Date().toISOString());
    }).immediate();
  }

  add(job: { token: string; options: string; fileName: string; bytes: number; sha256: string }): void {
    this.db
      .prepare(`INSERT INTO _sluice_job (token, state, options, file_name, bytes, sha256, created_at) VALUES (?, 'queued', ?, ?, ?, ?, ?)`)
      .run(job.token, job.options, job.fileName, job.bytes, job.sha256, new Date().toISOString());
  }

  get(token: string): Job | null {
    // Prepared once: a client polls this many times a second while a job runs.
    this.byToken ??= this.db.prepare('SELECT * FROM _sluice_job WHERE token = ?');
    const r = this.byToken.get(token) as JobRow | undefined;
    return r ? fromRow(r) : null;
  }

  /** The `limit` most recent jobs, newest first: of the classes given (null: of every class). */
  recent(limit: number, classes: readonly string[] | null): Job[] {
    if (classes !== null && classes.length === 0) return [];
    const where = classes === null ? '' : `WHERE json_extract(options, '$.className') IN (${classes.map(() => '?').join(', ')})`;
    return (this.db.prepare(`SELECT * FROM _sluice_job ${where} ORDER BY id DESC LIMIT ?`).all(...(classes ?? []), limit) as JobRow[]).map(fromRow);
  }

  /** The tokens of the jobs waiting for their turn. */
  queuedTokens(): string[] {
    return this.db.prepare(`SELECT token FROM _sluice_job WHERE state = 'queued'`).pluck().all() as string[];
  }

  /** Jobs waiting for their turn. */
  queued(): number {
    this.queuedCount ??= this.db.prepare(`SELECT count(*) FROM _sluice_job WHERE state = 'queued'`).pluck();
    return this.queuedCount.get() as number;
  }

  /** The oldest queued job, now marked processing; null when none waits. */
  takeNext(): Job | null {
    return this.db.transaction(() => {
      const r = this.db.prepare(`SELECT * FROM _sluice_job WHERE state = 'queued' ORDER BY id LIMIT 1`).get() as JobRow | undefined;
      if (!r) return null;
      const startedAt = new Date().toISOString();
      this.db.prepare(`UPDATE _sluice_job SET state = 'processing', started_at = ? WHERE id = ?`).run(startedAt, r.id);
      return fromRow({ ...r, state: 'processing', started_at: startedAt });
    }).immediate();
  }

  finish(token: string, end: { state: 'done' | 'error'; exitCode: number; message: string | null; results: JobResults; summary: string | null }): void {
    this.db
      .prepare(`UPDATE _sluice_job SET state = ?, finished_at = ?, exit_code = ?, message = ?, results = ?, summary = ? WHERE token = ?`)
      .run(end.state, new Date().toISOString(), end.exitCode, end.message, JSON.stringify(end.results), end.summary, token);
  }

  /** Forget the jobs that ended at or before `before` (an ISO time); their tokens, for their files to go too. */
  expire(before: string): string[] {
    return this.db.transaction(() => {
      const tokens = this.db.prepare(`SELECT token FROM _sluice_job WHERE state IN ('done', 'error') AND finished_at <= ?`).pluck().all(before) as string[];
      const del = this.db.prepare('DELETE FROM _sluice_job WHERE token = ?');
      for (const t of tokens) del.run(t);
      return tokens;
    }).immediate();
  }

  /** The running job's change record, once its run holds the data database. */
  started(token: string, changeId: number): void {
    this.db.prepare('UPDATE _sluice_job SET change_id = ? WHERE token = ?').run(changeId, token);
  }

  /** Remove a job that has not started; false when it is not (or no longer) queued. */
  removeQueued(token: string): boolean {
    return this.db.prepare(`DELETE FROM _sluice_job WHERE token = ? AND state = 'queued'`).run(token).changes === 1;
  }

  /**
   * At start, once claimed: the jobs a previous server was running when it died end in error,
   * as `end` describes each (read from the data database, which may be a server's). The
   * database rolled back their open transaction when the process went away.
   */
  async interruptOrphans(end: (changeId: number | null) => Promise<OrphanEnd>): Promise<string[]> {
    const orphans = this.db.prepare(`SELECT token, change_id FROM _sluice_job WHERE state = 'processing'`).all() as { token: string; change_id: number | null }[];
    const ends: OrphanEnd[] = [];
    for (const o of orphans) ends.push(await end(o.change_id));
    const now = new Date().toISOString();
    const upd = this.db.prepare(`UPDATE _sluice_job SET state = 'error', finished_at = ?, exit_code = 130, message = ?, results = ? WHERE token = ? AND state = 'processing'`);
    this.db.transaction(() => orphans.forEach((o, k) => upd.run(now, (ends[k] as OrphanEnd).message, JSON.stringify((ends[k] as OrphanEnd).results), o.token))).immediate();
    return orphans.map((o) => o.token);
  }
}
