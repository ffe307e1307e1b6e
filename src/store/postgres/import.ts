/**
 * `sluice import --db postgres://…`: runImport's path into a PostgreSQL schema.
 *
 *   source → decode → frame → parse · map · cast (this thread) → [PgApplier: set-wise lookups and writes] → report
 *
 * The reading, framing, parsing, mapping and the report are those of an SQLite run; the
 * pool's resolve stage and the writer thread are replaced by one PgApplier on one
 * connection, which looks a frame's rows up set-wise on the server and writes them
 * (store/postgres/apply.ts). One frame is parsed and applied at a time: the server does
 * the lookups the pool's workers do on SQLite, and a frame waits for the one before it.
 */
import { closeSync, openSync } from 'node:fs';
import { SluiceError, asSluiceError } from '../../base/errors.js';
import { pausePoint } from '../../base/pause.js';
import { PG_MAX_FRAME_GROWTH, frameTarget } from '../../base/threads.js';
import { createDecoder, type DecodeInfo } from '../../input/decode.js';
import { type Frame, Framer } from '../../input/frame.js';
import { JsonFramer, jsonHeader, objectsToRecords, splitObjects } from '../../input/json.js';
import { parseHeader, parseRecords } from '../../input/parse.js';
import { assertUtf8 } from '../../input/utf8.js';
import { findClass } from '../../model/load.js';
import { currentUser } from '../../model/store.js';
import { q } from '../../model/schema.js';
import type { CellSource } from '../../report/cells.js';
import { RowSpool } from '../../report/spool.js';
import { type Counts, emptyCounts } from '../../report/types.js';
import { compileDateFormat } from '../../rows/dates.js';
import { buildPlan } from '../../rows/header.js';
import { type MappedRows, mapRowInto, mapRows, passwordColumns } from '../../rows/map.js';
import type { ImportPlan } from '../../rows/plan.js';
import { type AppliedChunk, replyOf } from '../../write/apply.js';
import { type ImportHooks, type ImportResult, byteCounter, checkFile, csvOptions, endOfRun, framesOf, keepsRows, lookupIndexes, openSource } from '../../engine/run.js';
import type { ImportOptions } from '../../engine/options.js';
import { type FingerprintSeed, type FingerprintTable, fingerprintsApply, hashSpans, matchFrame, recordAt, seedOf } from '../../resolve/fingerprint.js';
import { type FoundRows, PgApplier, writeFailed } from './apply.js';
import type { PgBundle } from './bundle.js';
import { loadFingerprints, readGenerations } from './fingerprints.js';
import { lockWriter, type PgWriterLock } from './lock.js';
import { readModel, SQLITE_SHAPED_TYPES } from './read.js';
import { type PgClient, connectPostgres, schemaState } from './store.js';
import { type PgTarget, parsePostgresUrl, postgresNotAvailable } from './url.js';

/** The connection to the schema `o.db` names, and its model: what an import into it starts from. */
export interface OpenedSchema {
  client: PgClient;
  model: Awaited<ReturnType<typeof readModel>>;
  shown: string;
  schema: string;
  target: PgTarget;
}

export async function openSchema(o: Pick<ImportOptions, 'db'>): Promise<OpenedSchema> {
  const t = parsePostgresUrl(o.db, '--db');
  const client = await connectPostgres(t, SQLITE_SHAPED_TYPES);
  try {
    const state = await schemaState(client, t.schema);
    if (state === 'absent') throw new SluiceError('E_DB', `--db: ${t.shown} has no Sluice schema ${t.schema} (sluice init --db creates one; ?schema=NAME names another)`, { option: '--db' });
    if (state === 'other') throw new SluiceError('E_DB', `--db: the schema ${t.schema} of ${t.shown} is not a Sluice schema (it has no _sluice_meta table); name the one sluice init created with ?schema=NAME`, { option: '--db' });
    await client.query(`SELECT set_config('search_path', $1, false)`, [q(t.schema)]);
    const model = await readModel(client, t);
    return { client, model, shown: t.shown, schema: t.schema, target: t };
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err instanceof SluiceError ? err : writeFailed(err, t.shown);
  }
}

/**
 * Import one file: alone, on a connection and under a writer lock of its own, in a change
 * and a transaction of its own; or as a file of a bundle (`bundle`), which holds the
 * connection, the lock, the change and the transaction across its files (store/postgres/bundle.ts).
 */
export async function runPostgresImport(o: ImportOptions, hooks: ImportHooks = {}, bundle: PgBundle | null = null): Promise<ImportResult> {
  // A bundle's file comes with its bundle.
  if (hooks.writer || (o.writtenBefore && !bundle) || (o.sync && bundle)) throw postgresNotAvailable(o.db);
  const started = process.hrtime.bigint();
  const elapsed = (): number => Number(process.hrtime.bigint() - started) / 1e9;
  const totalBytes = await checkFile(o);
  const dates = compileDateFormat(o.dateFormat);
  const opened = bundle ? await bundle.open(o) : await openSchema(o);
  const { client, model, shown } = opened;
  let lock: PgWriterLock | null = null;
  const spool = keepsRows(o) ? RowSpool.create() : null;
  // The details table shows each row's input cells, read again from the input after the run:
  // standard input (or a stream) is copied beside the spool as it is read, as on SQLite.
  const wantCells = o.output === 'details' || o.log !== undefined;
  const inputCopy = wantCells && (o.input || o.file === '-') && spool ? spool.sidePath('input') : null;
  const copyFd = inputCopy === null ? null : openSync(inputCopy, 'wx', 0o600);
  let cellSource: CellSource | null = null;
  let bytesRead = 0;
  let lines = 0;
  let counts: Counts = emptyCounts();
  let rolledBack: Counts | null = null;
  let separator = o.separator ?? ',';
  let header: string[] = [];
  let plan: ImportPlan | null = null;
  let decodeInfo: DecodeInfo = { charset: o.charset ?? 'UTF-8', bom: false };
  let change: number | null = null;
  let lastCommittedLine: number | null = null;
  let failure: SluiceError | null = null;
  let stopMessage: string | null = null;
  let applier: PgApplier | null = null;
  let interrupted = false;
  /** the block sent to the server and not settled yet, with its frame's size */
  let inflight: { promise: Promise<AppliedChunk>; bytes: number; mapped: MappedRows } | null = null;
  /** a settled block's rows, whose arrays the next frame is mapped into */
  let spare: MappedRows | null = null;
  let settle = async (): Promise<void> => undefined;
  /** The end of the file: of the run, or of a bundle's file (which the bundle may carry on). */
  const finish = (a: PgApplier, ok: boolean, outcome: string, n: number): Promise<number | null> => (bundle ? bundle.finish(a, ok, outcome, n) : a.finish(ok, outcome, n));
  const cls = (() => {
    try {
      return findClass(model, o.className);
    } catch (err) {
      if (!bundle) void client.end().catch(() => undefined);
      throw err;
    }
  })();
  const source = openSource(o);
  const decoder = createDecoder(o.charset);
  const stream = source.pipe(byteCounter((n) => (bytesRead += n), copyFd)).pipe(decoder.stream);
  // An interrupt also ends a read that waits for input (standard input, a slow upload).
  const onAbort = (): void => {
    interrupted = true;
    decoder.stream.destroy(new SluiceError('E_INTERRUPTED', 'interrupted'));
  };
  if (hooks.signal?.aborted) onAbort();
  else hooks.signal?.addEventListener('abort', onAbort, { once: true });
  source.on('error', (e) => decoder.stream.destroy(new SluiceError('E_USAGE', `--file: cannot read ${o.file}: ${e.message}`, { option: '--file', cause: e })));
  const framer =
    o.format === 'json'
      ? new JsonFramer({ targetBytes: o.frameBytes, maxRecordBytes: o.maxRecordBytes })
      : new Framer({ quote: o.qualifier === null ? null : o.qualifier.charCodeAt(0), delimiter: o.separator === undefined ? null : o.separator.charCodeAt(0), targetBytes: o.frameBytes, maxRecordBytes: o.maxRecordBytes });
  try {
    const frames = framesOf(stream, framer);
    const first = await frames.next();
    decodeInfo = await decoder.info.catch(() => decodeInfo);
    const noObjects = first.done && framer instanceof JsonFramer && framer.emptyArray;
    if (first.done && !noObjects) {
      throw new SluiceError('E_MALFORMED', `the file is empty; ${o.format === 'json' ? 'it must hold an array of objects or one object per line' : 'the first line must be a header naming the columns'}`, { line: 1 });
    }
    let firstData: Frame | null = null;
    if (first.done) header = [];
    else if (o.format === 'json') {
      assertUtf8(first.value.bytes, first.value.firstLine);
      header = jsonHeader(first.value);
      firstData = first.value;
    } else {
      separator = String.fromCharCode((framer as Framer).delimiter as number);
      assertUtf8(first.value.bytes, 1);
      header = parseHeader(first.value.bytes, csvOptions(o, separator));
    }
    plan = buildPlan(model, cls, header, { keys: o.keys, action: o.action, ignoreEmpty: o.ignoreEmpty, sync: o.sync, writtenBefore: o.writtenBefore });
    if (wantCells) {
      cellSource = {
        path: inputCopy ?? o.file,
        format: o.format,
        charset: o.charset,
        separator,
        qualifier: o.qualifier,
        relaxQuotes: o.relaxQuotes,
        header: o.format === 'json' ? header : [],
        masked: passwordColumns(model, plan),
        maxRecordBytes: o.maxRecordBytes,
      };
    }
    try {
      if (bundle) await bundle.lockOnce(() => hooks.onWaiting?.(), hooks.signal);
      else lock = await lockWriter(client, opened.target, () => hooks.onWaiting?.(), undefined, hooks.signal);
    } catch (err) {
      throw err instanceof SluiceError ? err : writeFailed(err, shown);
    }
    const run = { user: o.user ?? currentUser(), comment: o.comment, file: bundle?.file ?? o.fileName ?? (o.input ? o.file : o.file === '-' ? '(stdin)' : o.file), simulate: o.simulate, stopOnError: o.stopOnError, chunkSize: o.chunkSize, inputBytes: totalBytes };
    const a = new PgApplier(client, model, plan, run, opened.schema, o.sync?.pass ?? null);
    try {
      const indexes = lookupIndexes(model, cls, plan);
      if (bundle) await bundle.start(a, indexes);
      else await a.begin(cls.name, plan.sync ? `sync ${plan.sync.source}` : plan.action, indexes);
    } catch (err) {
      throw writeFailed(err, shown);
    }
    // Record fingerprints, as on SQLite: the seed salts each record's hash; the committed
    // fingerprints are read once the run holds the lock.
    let seed: FingerprintSeed | null = null;
    // A sync's records are looked up, each: its replica is written with it.
    if (!plan.sync && fingerprintsApply(plan, cls, o.format)) {
      try {
        const generations = await readGenerations(client);
        seed = seedOf(model, plan, { delimiter: separator, quote: o.qualifier, relaxQuotes: o.relaxQuotes, dateFormat: o.dateFormat }, (k) => generations.get(k) ?? 0);
        a.useFingerprints(await loadFingerprints(client, cls.name));
      } catch (err) {
        throw writeFailed(err, shown);
      }
    }
    applier = a;
    change = a.changeId;
    hooks.onStarted?.(change);
    const opts = csvOptions(o, separator);
    let bytesDone = o.format === 'json' || first.done ? 0 : first.value.bytes.byteLength;
    hooks.onProgress?.({ bytesDone, totalBytes, lines, counts, elapsedS: elapsed() });
    let stopped = false;
    // One block is applied while the next frame is parsed and mapped: the server's work and
    // this thread's overlap. A block's outcome is taken before the next one is sent.
    settle = async (): Promise<void> => {
      if (!inflight) return;
      const { promise, bytes, mapped } = inflight;
      inflight = null;
      let applied;
      try {
        applied = replyOf(await promise);
      } catch (err) {
        throw writeFailed(err, shown);
      }
      spare = mapped;
      bytesDone += bytes;
      lines += applied.count;
      lastCommittedLine = applied.lastCommittedLine;
      counts = applied.counts;
      // Frames grow with the share of rows matched by fingerprint, as on SQLite: such a row costs
      // a hash, and a frame's round trips to the server are paid once for all its rows.
      if (framer instanceof Framer) framer.resize(frameTarget(o.frameBytes, applied.count, applied.hits, PG_MAX_FRAME_GROWTH));
      if (applied.block) spool?.appendBlock(applied.block);
      if (applied.stop) {
        stopped = true;
        stopMessage = applied.stop.message;
      }
      hooks.onProgress?.({ bytesDone, totalBytes, lines, counts, elapsedS: elapsed() });
      pausePoint('frame-applied');
    };
    for (;;) {
      if (interrupted || stopped) break;
      let mapped: ReturnType<typeof mapRows>;
      let frameBytes: number;
      let fp: BigInt64Array | null = null;
      let found: FoundRows | null = null;
      try {
        let f: Frame;
        if (firstData) {
          f = firstData;
          firstData = null;
        } else {
          const next = await frames.next();
          if (next.done) break;
          f = next.value;
        }
        frameBytes = f.bytes.byteLength;
        const buf = Buffer.from(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength);
        assertUtf8(buf, f.firstLine);
        let records: (string | undefined)[][];
        let recordLines: Int32Array;
        let errors: (string | null)[] | null = null;
        if (o.format === 'json') {
          const text = buf.toString('utf8');
          ({ records, lines: recordLines, errors } = objectsToRecords(text, splitObjects(text, f.firstLine), plan.header));
        } else if (seed && a.matchable()) {
          // As in SQLite's workers: the records matching an object are neither parsed nor mapped.
          const matched = matchFrame(buf, f.firstLine, opts, seed, a.matchable() as FingerprintTable);
          records = matched.records as (string | undefined)[][];
          recordLines = matched.lines;
          fp = matched.fp;
          const { hit, spans } = matched;
          if (hit && spans) {
            const unmapped = new Uint8Array(records.length);
            for (let i = 0; i < unmapped.length; i++) if (matched.records[i] === null) unmapped[i] = 1;
            const p = plan;
            found = { hit, unmapped, map: (m, i) => mapRowInto(model, p, m, i, recordAt(buf, spans, i, opts), { dates }) };
          }
        } else if (seed) {
          const spans = { start: [] as number[], end: [] as number[] };
          ({ records, lines: recordLines } = parseRecords(buf, f.firstLine, opts, spans));
          if (spans.start.length === records.length) fp = hashSpans(buf, spans, seed);
        } else ({ records, lines: recordLines } = parseRecords(buf, f.firstLine, opts));
        mapped = mapRows(model, plan, records, recordLines, { dates, skip: found?.unmapped, into: spare ?? undefined, replica: plan.sync !== null });
        spare = null;
        if (errors) errors.forEach((e, i) => e !== null && (mapped.error[i] = e));
      } catch (err) {
        // The rows before the bad input come first: a row error among them stops the run there.
        await settle();
        if (stopped) break;
        throw err;
      }
      await settle();
      if (stopped) break;
      const promise = a.apply(mapped, spool !== null, fp, found);
      // Handled when the block is settled; until then a failure must not count as unhandled.
      promise.catch(() => undefined);
      inflight = { promise, bytes: frameBytes, mapped };
    }
    await settle();
    if (interrupted) throw new SluiceError('E_INTERRUPTED', 'interrupted; the open transaction was rolled back');
    try {
      change = await finish(a, !stopped, stopped ? 'rolled back' : o.simulate ? 'simulated' : 'committed', lines);
    } catch (err) {
      throw writeFailed(err, shown);
    }
    counts = { ...a.counts };
    rolledBack = a.rolledBack;
    lastCommittedLine = a.lastCommittedLine;
    if (stopped) failure = new SluiceError('E_ROW', stopMessage ?? 'stopped', {});
  } catch (err) {
    failure = asSluiceError(err);
    stream.destroy();
    // A block still at the server is taken first: its queries and the rollback share the connection.
    await settle().catch(() => undefined);
    if (!applier) {
      // A bundle's file: the bundle ends the run its earlier files left open (PgBundle.end).
      if (!bundle) {
        await lock?.release().catch(() => undefined);
        await client.end().catch(() => undefined);
      }
      spool?.close();
      throw failure;
    }
    try {
      change = await finish(applier, false, failure.code === 'E_INTERRUPTED' ? 'interrupted' : 'failed', lines);
      counts = { ...applier.counts };
      rolledBack = applier.rolledBack;
      // A sync stopped at its end by the guard: as on SQLite, the report keeps what its blocks said.
      if (!applier.failedAtEnd) lastCommittedLine = applier.lastCommittedLine;
    } catch {
      // The connection is gone: the server rolled the open transaction back.
    }
    if (failure.code === 'E_INTERRUPTED' || interrupted) {
      failure = new SluiceError('E_INTERRUPTED', `interrupted after line ${lines + 1}; ${lastCommittedLine ? `committed up to line ${lastCommittedLine}, the rest` : 'the import'} was rolled back`);
      stopMessage = failure.message;
    } else {
      stopMessage = failure.line !== undefined && !failure.message.includes(`line ${failure.line}`) ? `line ${failure.line}: ${failure.message}` : failure.message;
    }
  } finally {
    hooks.signal?.removeEventListener('abort', onAbort);
    source.destroy();
    if (copyFd !== null) closeSync(copyFd);
    if (!bundle) {
      await lock?.release().catch(() => undefined);
      await client.end().catch(() => undefined);
    }
  }
  const sync = failure ? null : (applier?.syncOutcome ?? null);
  const { summary, exitCode } = endOfRun(o, { className: cls.name, separator, charset: decodeInfo.charset, dateFormat: dates.format, bytesRead, lines, header, keys: plan?.keyLabels ?? [], counts, rolledBack, elapsedS: elapsed(), change, interrupted, failure, lastCommittedLine, stopMessage, sync });
  return { summary, rows: spool, cells: cellSource, exitCode, error: failure };
}
