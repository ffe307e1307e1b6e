import { Worker } from 'node:worker_threads';
import { SluiceError } from '../base/errors.js';
import type { SharedFingerprints } from '../resolve/fingerprint.js';
import { WRITER_RESOURCE_LIMITS } from '../base/threads.js';
import type { AppliedReply } from './apply.js';
import { releaseLease } from './lock.js';
import type { FromWriter, ToWriter, WriterConfig } from './protocol.js';

export type Finished = Extract<FromWriter, { type: 'finished' }>;
type PartEnded = Extract<FromWriter, { type: 'partEnded' }>;
/** The run holds the write lock: its change id, whether the imported class was empty then, and its fingerprints for the workers. */
export interface Ready {
  change: number;
  emptyClass: boolean;
  fingerprints: SharedFingerprints | null;
}

/** What runImport drives a run's writes through: a WriterClient, or a bundle's file (engine/bundle-writer.ts). */
export interface RunWriter {
  start(): Promise<Ready>;
  /** An interrupt: a writer still waiting for the write lock gives up, and start() rejects with E_INTERRUPTED. */
  interrupt(): void;
  apply(bytes: Uint8Array): Promise<AppliedReply>;
  finish(ok: boolean, outcome: string, lines: number): Promise<Finished>;
  terminate(): Promise<void>;
}

/**
 * The run thread's handle on the writer thread. Replies come back in request
 * order; a failure of the thread rejects every pending request.
 */
export class WriterClient implements RunWriter {
  private readonly worker: Worker;
  private readonly pending: { resolve: (m: FromWriter) => void; reject: (e: Error) => void }[] = [];
  private failure: SluiceError | null = null;
  private readonly ready: Promise<Ready>;
  /** the writer thread said it ended the run (finished or failed), lease given up */
  private ended = false;
  /** set to 1 by interrupt(); the writer thread reads it while it waits for the write lock */
  private readonly stop = new Int32Array(new SharedArrayBuffer(4));

  constructor(
    private readonly cfg: WriterConfig,
    onWaiting: () => void = () => {},
  ) {
    const data: WriterConfig = { ...cfg, interrupt: this.stop.buffer as SharedArrayBuffer };
    this.worker = new Worker(new URL('./thread.js', import.meta.url), { workerData: data, resourceLimits: WRITER_RESOURCE_LIMITS });
    let onReady!: (m: FromWriter) => void;
    let onFail!: (e: Error) => void;
    this.ready = new Promise<FromWriter>((res, rej) => {
      onReady = res;
      onFail = rej;
    }).then((m) => {
      const r = m as Extract<FromWriter, { type: 'ready' }>;
      return { change: r.change, emptyClass: r.emptyClass, fingerprints: r.fingerprints };
    });
    this.pending.push({ resolve: onReady, reject: onFail });
    this.worker.on('message', (m: FromWriter) => {
      if (m.type === 'waiting') {
        onWaiting();
        return;
      }
      if (m.type === 'finished' || m.type === 'failed') this.ended = true;
      const p = this.pending.shift();
      if (m.type === 'failed') {
        this.fail(SluiceError.fromJSON(m.error), p);
        return;
      }
      p?.resolve(m);
    });
    this.worker.on('error', (e) => this.fail(new SluiceError('E_WORKER', `the writer thread failed: ${e.message}`, { cause: e })));
    this.worker.on('exit', (code) => {
      if (this.pending.length > 0) this.fail(new SluiceError('E_WORKER', `the writer thread exited (code ${code}) with work pending`));
    });
  }

  private fail(e: SluiceError, first?: { reject: (e: Error) => void }): void {
    this.failure ??= e;
    first?.reject(e);
    for (const p of this.pending.splice(0)) p.reject(e);
  }

  interrupt(): void {
    Atomics.store(this.stop, 0, 1);
  }

  /** Resolves with the change id once the writer holds the write transaction. */
  start(): Promise<Ready> {
    return this.ready;
  }

  private request(m: ToWriter, transfer: ArrayBuffer[] = []): Promise<FromWriter> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.worker.postMessage(m, transfer);
    });
  }

  /**
   * Apply an encoded chunk; its buffer is transferred to the writer. Chunks are applied in
   * the order they are sent; one sent after a chunk that stopped the run is not applied
   * (its result has no rows).
   */
  async apply(bytes: Uint8Array): Promise<AppliedReply> {
    const m = await this.request({ type: 'chunk', bytes }, [bytes.buffer as ArrayBuffer]);
    return (m as Extract<FromWriter, { type: 'applied' }>).result;
  }

  /** A bundle: the file being applied is done; the run's transaction stays open for the next. */
  async endPart(lines: number): Promise<PartEnded> {
    return (await this.request({ type: 'endPart', lines })) as PartEnded;
  }

  /** A bundle: go on with its next file (`cfg`), in the same change and transaction. */
  async nextPart(cfg: WriterConfig): Promise<Ready> {
    const m = (await this.request({ type: 'part', cfg })) as Extract<FromWriter, { type: 'ready' }>;
    return { change: m.change, emptyClass: m.emptyClass, fingerprints: m.fingerprints };
  }

  async finish(ok: boolean, outcome: string, lines: number): Promise<Finished> {
    const m = await this.request({ type: 'finish', ok, outcome, lines });
    return m as Finished;
  }

  /** Stop the writer thread; a run it left open gives up its lease from here. */
  async terminate(): Promise<void> {
    await this.worker.terminate();
    if (!this.ended) releaseLease(this.cfg.dbPath, this.cfg.leaseToken);
  }
}
