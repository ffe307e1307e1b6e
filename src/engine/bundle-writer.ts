/**
 * One writer thread for a whole bundle: each file's runImport drives it as its own writer
 * (ImportHooks.writer), while the thread keeps one change record and, by default, one
 * transaction across the files (write/thread.ts `part` and `endPart`). Into PostgreSQL,
 * store/postgres/bundle.ts does the same on one connection.
 */
import { SluiceError } from '../base/errors.js';
import type { ChangeLabel } from '../write/apply.js';
import { type Finished, type Ready, type RunWriter, WriterClient } from '../write/client.js';
import type { LookupIndex } from '../write/prepare.js';
import type { WriterConfig } from '../write/protocol.js';
import type { ImportPlan } from '../rows/plan.js';
import type { ImportOptions } from './options.js';
import { type ImportHooks, type ImportResult, runImport } from './run.js';

/** What runs a bundle's files one after the other in one change: the store's side of runBundle. */
export interface BundleRunner {
  /** Import the bundle's next file. */
  run(o: ImportOptions, hooks: ImportHooks): Promise<ImportResult>;
  /** End the run the files left open (a file failed before it joined it, or the run stopped between files); null: nothing was open. */
  end(outcome: string, lines: number): Promise<{ change: number | null } | null>;
  /** Give up before the first file holds the database. */
  terminate(): Promise<void>;
}

export class BundleWriter implements BundleRunner {
  private client: WriterClient | null = null;
  /** the files that asked for their writer so far */
  private opened = 0;
  /** the thread ended the run (finished, failed or stopped) */
  private ended = false;
  private change: number | null = null;

  constructor(
    private readonly label: ChangeLabel,
    /** the bundle as the change record names it (its directory or manifest) */
    private readonly file: string,
    private readonly parts: { plan: ImportPlan; indexes: LookupIndex[] }[],
  ) {}

  run(o: ImportOptions, hooks: ImportHooks): Promise<ImportResult> {
    return runImport(o, { ...hooks, writer: this.next });
  }

  /** ImportHooks.writer for the bundle's next file. */
  readonly next = (cfg: WriterConfig, onWaiting?: () => void): RunWriter => {
    const k = this.opened++;
    const last = k === this.parts.length - 1;
    const part: WriterConfig = { ...cfg, run: { ...cfg.run, file: this.file } };
    return {
      start: async (): Promise<Ready> => {
        let ready: Ready;
        if (k === 0) {
          this.client = new WriterClient({ ...part, bundle: { label: this.label, parts: this.parts } }, onWaiting);
          ready = await this.client.start();
        } else ready = await this.live().nextPart(part);
        this.change = ready.change;
        return ready;
      },
      interrupt: () => this.client?.interrupt(),
      apply: (bytes) => this.live().apply(bytes),
      finish: async (ok, outcome, lines): Promise<Finished> => {
        if (ok && !last) {
          const e = await this.live().endPart(lines);
          return { type: 'finished', change: this.change, counts: e.counts, rolledBack: null, lastCommittedLine: e.lastCommittedLine, sync: null };
        }
        this.ended = true;
        return this.live().finish(ok, outcome, lines);
      },
      // A file that fails before its writer is ready leaves the run to end(): the files before it are in it.
      terminate: async () => {
        if (k === 0) await this.terminate();
      },
    };
  };

  private live(): WriterClient {
    if (!this.client) throw new SluiceError('E_INTERNAL', 'the bundle writer has not started');
    return this.client;
  }

  /**
   * End a run the bundle's files left open (one failed before its writer was ready, or the
   * run stopped between files): roll back what is open and record the change's outcome.
   */
  async end(outcome: string, lines: number): Promise<Finished | null> {
    if (!this.client || this.ended) return null;
    this.ended = true;
    try {
      return await this.client.finish(false, outcome, lines);
    } catch {
      await this.client.terminate();
      return null;
    }
  }

  async terminate(): Promise<void> {
    this.ended = true;
    await this.client?.terminate();
  }
}
