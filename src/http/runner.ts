/**
 * Runs the queued jobs of one database, one at a time in order of arrival, through the
 * engine `sluice import` uses (runImportOnThread), and records each one's outcome. The
 * database is an SQLite file or a PostgreSQL URL: the engine's entry points choose the store.
 */
import { rmSync } from 'node:fs';
import { asSluiceError, exitCodeFor } from '../base/errors.js';
import { runImportOnThread } from '../engine/coordinator.js';
import type { ImportOptions } from '../engine/options.js';
import type { Counts, ProgressEvent } from '../report/types.js';
import { storeFor } from '../store/store.js';
import { type Job, type JobResults, type JobStore, NO_RESULTS } from './jobs.js';
import { runUndoOnThread } from '../undo/thread.js';
import { conflictText } from '../undo/undo.js';
import { type BundleJob, runBundleJob } from './bundle-job.js';
import { keepLog, logPath, uploadPath } from './joblog.js';

/** What an undo job holds in place of import options (POST /v1/changes/{n}/undo). */
export interface UndoJob {
  change: number;
  simulate: boolean;
  force: boolean;
  comment: string;
}

/** How often a job that found the database busy looks again. */
const LOCK_POLL_MS = 100;

function resultsOf(c: Counts): JobResults {
  return { created: c.created, updated: c.updated, deleted: c.deleted, unchanged: c.unchanged, skipped: c.skipped, errors: c.errors };
}

export interface RunnerEvents {
  /** one line for the server's log: no option values, no data */
  log(message: string): void;
  /** a job has ended (its state is stored) */
  ended?(): void;
}

export class JobRunner {
  private current: { token: string; abort: AbortController; line: number; results: JobResults } | null = null;
  private loop: Promise<void> | null = null;
  private stopping = false;

  constructor(
    private readonly dbPath: string,
    private readonly store: JobStore,
    private readonly events: RunnerEvents,
  ) {}

  /** The line the running job has applied up to (header = line 1); null when `token` is not running here. */
  lineOf(token: string): number | null {
    return this.current?.token === token ? this.current.line : null;
  }

  /** The rows the running job has applied so far, by status; null when `token` is not running here. */
  resultsOf(token: string): JobResults | null {
    return this.current?.token === token ? this.current.results : null;
  }

  /** Start working through the queue, unless already at it. */
  kick(): void {
    if (this.loop !== null || this.stopping) return;
    this.loop = this.drain().finally(() => {
      this.loop = null;
      // A job queued after the last look at the queue, before the loop ended.
      if (!this.stopping && this.store.queued() > 0) this.kick();
    });
  }

  /**
   * Cancel a job: a queued one is removed with its upload; the running one is interrupted
   * (its transaction rolls back as on Ctrl-C) and ends in error.
   */
  cancel(token: string): 'removed' | 'cancelling' | null {
    if (this.store.removeQueued(token)) {
      rmSync(uploadPath(this.store.dir, token), { force: true, recursive: true });
      this.events.log(`job ${token.slice(0, 8)}… removed from the queue`);
      return 'removed';
    }
    if (this.current?.token === token) {
      this.current.abort.abort();
      return 'cancelling';
    }
    return null;
  }

  /** Take no new job, interrupt the running one and wait until it has ended. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.current?.abort.abort();
    await this.loop;
  }

  private async drain(): Promise<void> {
    while (!this.stopping) {
      const job = this.store.takeNext();
      if (job === null) return;
      const run = { token: job.token, abort: new AbortController(), line: 0, results: NO_RESULTS };
      this.current = run;
      try {
        await this.run(job, run.abort.signal, (p) => {
          run.line = p.lines + 1;
          run.results = resultsOf(p.counts);
        });
      } finally {
        this.current = null;
        // A bundle's upload is a directory.
        rmSync(uploadPath(this.store.dir, job.token), { force: true, recursive: true });
      }
      this.events.ended?.();
    }
  }

  private async run(job: Job, signal: AbortSignal, onProgress: (p: ProgressEvent) => void): Promise<void> {
    const undo = (JSON.parse(job.options) as { undo?: UndoJob }).undo;
    if (undo) return this.runUndo(job, undo, signal);
    if ((JSON.parse(job.options) as Partial<BundleJob>).bundle) return this.runBundle(job, signal, onProgress);
    const name = `job ${job.token.slice(0, 8)}…`;
    this.events.log(`${name} processing (${job.bytes} bytes)`);
    const o = { ...(JSON.parse(job.options) as ImportOptions), db: this.dbPath, file: uploadPath(this.store.dir, job.token), input: undefined };
    try {
      await (await storeFor(this.dbPath)).writerFree(this.dbPath, signal, LOCK_POLL_MS);
      if (signal.aborted) {
        this.store.finish(job.token, { state: 'error', exitCode: 130, message: 'interrupted before it started; nothing was written', results: NO_RESULTS, summary: null });
        this.events.log(`${name} interrupted before it started`);
        return;
      }
      const r = await runImportOnThread(o, { signal, onProgress, onStarted: (change) => this.store.started(job.token, change) });
      try {
        if (r.rows) await keepLog(this.store.dir, job.token, [r], false);
      } catch (err) {
        // The run's outcome stands; only its details table is lost (a full disk).
        rmSync(logPath(this.store.dir, job.token), { recursive: true, force: true });
        this.events.log(`${name}: its log could not be kept (${asSluiceError(err).message})`);
      } finally {
        r.rows?.close();
      }
      const message = r.error ? (r.summary.stopMessage ?? r.error.message) : null;
      this.store.finish(job.token, { state: r.error ? 'error' : 'done', exitCode: r.exitCode, message, results: resultsOf(r.summary.counts), summary: JSON.stringify(r.summary) });
      this.events.log(`${name} ${r.error ? 'ended in error' : 'done'} (exit status ${r.exitCode})`);
    } catch (err) {
      // Raised before the run wrote anything: a header naming an unknown column, a database that cannot be opened.
      const e = asSluiceError(err);
      this.store.finish(job.token, { state: 'error', exitCode: exitCodeFor(e), message: e.code === 'E_INTERNAL' ? 'internal error' : e.message, results: NO_RESULTS, summary: null });
      this.events.log(`${name} ended in error (${e.code})`);
    }
  }

  /** A bundle job (several files in one form): `sluice import --bundle` on its spooled files, once the write lock is free. */
  private async runBundle(job: Job, signal: AbortSignal, onProgress: (p: ProgressEvent) => void): Promise<void> {
    const name = `job ${job.token.slice(0, 8)}…`;
    this.events.log(`${name} processing (a bundle, ${job.bytes} bytes)`);
    try {
      await (await storeFor(this.dbPath)).writerFree(this.dbPath, signal, LOCK_POLL_MS);
    } catch (err) {
      const e = asSluiceError(err);
      this.store.finish(job.token, { state: 'error', exitCode: exitCodeFor(e), message: e.code === 'E_INTERNAL' ? 'internal error' : e.message, results: NO_RESULTS, summary: null });
      return;
    }
    if (signal.aborted) {
      this.store.finish(job.token, { state: 'error', exitCode: 130, message: 'interrupted before it started; nothing was written', results: NO_RESULTS, summary: null });
      this.events.log(`${name} interrupted before it started`);
      return;
    }
    await runBundleJob(this.dbPath, this.store, job, signal, onProgress, (m) => this.events.log(m));
  }

  /** An undo job: `sluice undo` on a thread of its own, once the write lock is free. */
  private async runUndo(job: Job, u: UndoJob, signal: AbortSignal): Promise<void> {
    const name = `job ${job.token.slice(0, 8)}…`;
    this.events.log(`${name} processing (undo of change ${u.change})`);
    try {
      await (await storeFor(this.dbPath)).writerFree(this.dbPath, signal, LOCK_POLL_MS);
      if (signal.aborted) {
        this.store.finish(job.token, { state: 'error', exitCode: 130, message: 'interrupted before it started; nothing was written', results: NO_RESULTS, summary: null });
        return;
      }
      const r = await runUndoOnThread({ db: this.dbPath, change: u.change, simulate: u.simulate, force: u.force, comment: u.comment });
      const c = r.counts;
      const results: JobResults = { created: c.recreated, updated: c.restored, deleted: c.deleted, unchanged: 0, skipped: c.skipped, errors: r.conflicts.length };
      const named = r.conflicts.slice(0, CONFLICTS_SHOWN).map(conflictText).join('; ');
      const more = r.conflicts.length > CONFLICTS_SHOWN ? `; and ${r.conflicts.length - CONFLICTS_SHOWN} more` : '';
      if (r.outcome === 'refused') {
        const message = `undo of change ${u.change} refused: ${r.conflicts.length} conflict${r.conflicts.length === 1 ? '' : 's'} with later changes, nothing written (force=1 reverts the rest): ${named}${more}`;
        this.store.finish(job.token, { state: 'error', exitCode: 3, message, results, summary: null });
      } else {
        this.store.finish(job.token, { state: 'done', exitCode: r.conflicts.length > 0 ? 1 : 0, message: r.conflicts.length > 0 ? `${named}${more}` : null, results, summary: null });
      }
      this.events.log(`${name} ${r.outcome} (undo of change ${u.change})`);
    } catch (err) {
      const e = asSluiceError(err);
      this.store.finish(job.token, { state: 'error', exitCode: exitCodeFor(e), message: e.code === 'E_INTERNAL' ? 'internal error' : e.message, results: NO_RESULTS, summary: null });
      this.events.log(`${name} ended in error (${e.code})`);
    }
  }
}

/** At most this many conflicts are named in a refused undo's message. */
const CONFLICTS_SHOWN = 5;
