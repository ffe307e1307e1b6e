/**
 * A bundle's files into a PostgreSQL schema (engine/bundle.ts), the counterpart of
 * engine/bundle-writer.ts: one connection and one writer lock for all the files, and one
 * change record and, by default, one transaction, which the first file's PgApplier begins,
 * each next file's joins, and the last one's finishes. Each file runs through the same
 * runPostgresImport as a single file's import; only its beginning and its end differ.
 */
import type { BundleRunner } from '../../engine/bundle-writer.js';
import type { ImportOptions } from '../../engine/options.js';
import type { ImportHooks, ImportResult } from '../../engine/run.js';
import { emptyCounts } from '../../report/types.js';
import { type BundlePart, type ChangeLabel, addCounts } from '../../write/apply.js';
import type { LookupIndex } from '../../write/prepare.js';
import type { PgApplier } from './apply.js';
import { type OpenedSchema, openSchema, runPostgresImport } from './import.js';
import { type PgWriterLock, lockWriter } from './lock.js';

export class PgBundle implements BundleRunner {
  private session: OpenedSchema | null = null;
  private held: PgWriterLock | null = null;
  /** the applier that holds the run: the file running, or the last one that ended its part */
  private holder: PgApplier | null = null;
  /** the files that began so far */
  private started = 0;
  /** the run was finished, failed or given up */
  private ended = false;
  private change = 0;
  /** the files done so far (BundlePart.prior) */
  private prior: BundlePart['prior'] = { counts: emptyCounts(), committed: emptyCounts(), lines: 0 };

  constructor(
    private readonly label: ChangeLabel,
    /** the bundle as the change record names it (its directory or manifest) */
    readonly file: string,
    private readonly files: number,
    /** each file commits at its end (--chunk-size without --simulate) */
    private readonly chunked: boolean,
  ) {}

  run(o: ImportOptions, hooks: ImportHooks): Promise<ImportResult> {
    return runPostgresImport(o, hooks, this);
  }

  /** The connection, opened by the first file. */
  async open(o: ImportOptions): Promise<OpenedSchema> {
    this.session ??= await openSchema(o);
    return this.session;
  }

  /** The writer lock, taken by the first file once it has read its header, and held to the end of the bundle. */
  async lockOnce(onWaiting: () => void, signal?: AbortSignal): Promise<void> {
    if (this.held || !this.session) return;
    this.held = await lockWriter(this.session.client, this.session.target, onWaiting, undefined, signal);
  }

  /** A file's applier opens the run (the first file) or joins it (the others). */
  async start(a: PgApplier, indexes: readonly LookupIndex[]): Promise<void> {
    const k = this.started++;
    if (k === 0 || !this.holder) await a.begin(this.label.className, this.label.action, indexes);
    else {
      const prior = { counts: { ...this.prior.counts }, committed: { ...this.prior.committed }, lines: this.prior.lines };
      await a.join(this.label, { change: this.change, prior }, this.holder.sequenceMarks, indexes);
    }
    this.change = a.changeId;
    this.holder = a;
  }

  /** The end of a file: of its part when another follows and it went well, else of the run. */
  async finish(a: PgApplier, ok: boolean, outcome: string, lines: number): Promise<number | null> {
    if (ok && this.started < this.files) {
      await a.endPart(lines);
      this.prior = { counts: addCounts(this.prior.counts, a.counts), committed: this.prior.committed, lines: this.prior.lines + lines };
      if (this.chunked) this.prior.committed = { ...this.prior.counts };
      return this.change;
    }
    this.ended = true;
    try {
      return await a.finish(ok, outcome, lines);
    } finally {
      await this.close();
    }
  }

  /**
   * End a run the bundle's files left open (one failed before its applier joined, or the
   * run stopped between files): roll back what is open and record the change's outcome.
   */
  async end(outcome: string, lines: number): Promise<{ change: number | null } | null> {
    if (!this.holder || this.ended) {
      await this.close();
      return null;
    }
    this.ended = true;
    try {
      return { change: await this.holder.finish(false, outcome, lines) };
    } catch {
      // The connection is gone: the server rolled the open transaction back.
      return null;
    } finally {
      await this.close();
    }
  }

  async terminate(): Promise<void> {
    this.ended = true;
    await this.close();
  }

  private async close(): Promise<void> {
    const s = this.session;
    this.session = null;
    if (!s) return;
    await this.held?.release().catch(() => undefined);
    this.held = null;
    await s.client.end().catch(() => undefined);
  }
}
