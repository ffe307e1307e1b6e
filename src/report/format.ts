/**
 * Report rendering (SPEC §4 "Output"). The pure functions build strings; the
 * writers stream them with backpressure so memory does not grow with the
 * number of rows.
 */
import { createWriteStream } from 'node:fs';
import { escapeControls } from '../base/errors.js';
import { csvLine } from './csv.js';
import { TextSink } from './sink.js';
import type { SyncOutcome } from '../sync/writer.js';
import type { Counts, RowBatches, RowOutcome, RunSummary } from './types.js';

export type ReportKind = 'summary' | 'details' | 'json' | 'retcode';

export const REPORT_KINDS: readonly ReportKind[] = ['summary', 'details', 'json', 'retcode'];

/**
 * A value of a `#` line: header names and option values escaped as messages escape them, so a
 * line break cannot end the line early nor a control character act on a terminal.
 */
function shown(value: string): string {
  return escapeControls(value);
}

/** Free text (the comment, the stop message): its line breaks read as spaces, the rest escaped. */
function oneLine(value: string): string {
  return escapeControls(value.replace(/\r\n|[\r\n]/g, ' '));
}

function separatorName(sep: string): string {
  return sep === '\t' ? 'tab' : shown(sep);
}

/** The summary header, in iTop's order, ending with a newline. */
export function formatSummary(s: RunSummary): string {
  const c = s.counts;
  const lines = [
    `#Class: ${shown(s.className)}`,
    `#Separator: ${separatorName(s.separator)}`,
    `#Qualifier: ${shown(s.qualifier)}`,
    `#Charset Encoding: ${shown(s.charset)}`,
    `#Date format: ${shown(s.dateFormat === '' ? 'ISO 8601' : s.dateFormat)}`,
    `#Data Size: ${s.dataSize}`,
    `#Data Lines: ${s.dataLines}`,
    `#Simulate: ${s.simulate ? 'yes' : 'no'}`,
    `#Columns: ${shown(s.columns.join(', '))}`,
    `#Reconciliation Keys: ${shown(s.keys.join(', '))}`,
    `#Change tracking comment: ${oneLine(s.comment)}`,
    `#Issues: ${c.errors}`,
    `#Warnings: ${c.warnings}`,
    `#Created: ${c.created}`,
    `#Updated: ${c.updated}`,
    `#Unchanged: ${c.unchanged}`,
    `#Deleted: ${c.deleted}`,
    `#Skipped: ${c.skipped}`,
    `#Elapsed: ${s.elapsedS.toFixed(3)}s`,
    `#Rows/s: ${Math.round(s.rowsPerS)}`,
    `#Peak memory: ${Math.round(s.peakRssBytes / 1048576)} MB`,
  ];
  if (s.sync) lines.push(...syncLines(s.sync));
  if (s.change !== null) lines.push(`#Change: ${s.change}`);
  lines.push(`#Result: ${s.outcome}`);
  if (s.lastCommittedLine !== null) lines.push(`#Last committed line: ${s.lastCommittedLine}`);
  if (s.rolledBack) lines.push(`#Rolled back: ${rolledBackText(s.rolledBack)}`);
  if (s.stopMessage !== null) lines.push(`#Stopped: ${oneLine(s.stopMessage)}`);
  return lines.join('\n') + '\n';
}

/** A sync's lines: its source, the replicas the feed held, and what became of the absent objects. */
function syncLines(o: SyncOutcome): string[] {
  const lines = [`#Source: ${shown(o.source)} (${o.mode} load)`, `#Replicas: ${o.replicasSeen} seen of ${o.replicasTotal}`];
  if (o.mode === 'full') {
    const what = [`updated ${o.obsoleted}`, `deleted ${o.deleted}`, ...(o.referenced > 0 ? [`kept ${o.referenced}, still referenced`] : [])];
    lines.push(`#Absent: ${o.absent} (${what.join(', ')})`);
  }
  return lines;
}

/** What a failed run applied and rolled back: `3 rows (created 2, unchanged 1)`. */
function rolledBackText(c: Counts): string {
  const parts = (['created', 'updated', 'unchanged', 'deleted', 'skipped', 'errors'] as const).filter((k) => c[k] > 0).map((k) => `${k} ${c[k]}`);
  const rows = c.created + c.updated + c.unchanged + c.deleted + c.skipped + c.errors;
  return `${rows} row${rows === 1 ? '' : 's'}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`;
}

export function detailsHeader(columns: readonly string[]): string[] {
  return ['line', 'status', 'id', 'message', ...columns];
}

/** The `message` column of the details table: changes, message, then warnings. */
export function detailsMessage(row: RowOutcome): string {
  const parts: string[] = [];
  if (row.status === 'updated' && row.changed !== undefined && row.changed.length > 0) {
    parts.push(`changed: ${row.changed.join(', ')}`);
  }
  if (row.message !== undefined && row.message !== '') parts.push(row.message);
  if (row.warnings !== undefined) {
    for (const w of row.warnings) parts.push(`warning: ${w}`);
  }
  return parts.join('; ');
}

/**
 * One details record. Cells are padded or cut to the header width so every
 * record has the same number of fields, even for ragged input rows.
 */
export function detailsRow(row: RowOutcome, columnCount: number): string[] {
  const out = [String(row.line), row.status, row.id === null ? '' : String(row.id), detailsMessage(row)];
  const cells = row.cells ?? [];
  for (let i = 0; i < columnCount; i++) out.push(cells[i] ?? '');
  return out;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function summaryObject(s: RunSummary): Record<string, unknown> {
  const c = s.counts;
  return {
    class: s.className,
    simulate: s.simulate,
    change: s.change,
    created: c.created,
    updated: c.updated,
    unchanged: c.unchanged,
    deleted: c.deleted,
    skipped: c.skipped,
    errors: c.errors,
    warnings: c.warnings,
    lines: s.dataLines,
    elapsed_s: round3(s.elapsedS),
    outcome: s.outcome,
    last_committed_line: s.lastCommittedLine,
    ...(s.rolledBack ? { rolled_back: { ...s.rolledBack } } : {}),
    stopped: s.stopMessage,
    rows_per_s: s.rowsPerS,
    peak_rss_bytes: s.peakRssBytes,
    ...(s.sync
      ? {
          sync: {
            source: s.sync.source,
            mode: s.sync.mode,
            replicas_seen: s.sync.replicasSeen,
            replicas_total: s.sync.replicasTotal,
            absent: s.sync.absent,
            obsoleted: s.sync.obsoleted,
            absent_deleted: s.sync.deleted,
            absent_referenced: s.sync.referenced,
          },
        }
      : {}),
  };
}

/** The JSON document without `rows`, with a trailing newline. */
export function jsonDocument(s: RunSummary): string {
  return JSON.stringify(summaryObject(s)) + '\n';
}

/** Everything up to and including `"rows":[`; follow with jsonRow() calls and jsonTail(). */
export function jsonHead(s: RunSummary): string {
  const doc = JSON.stringify(summaryObject(s));
  return doc.slice(0, -1) + ',"rows":[';
}

/** One element of `rows`; one per line so a large document stays greppable. */
export function jsonRow(row: RowOutcome, first: boolean): string {
  const item: Record<string, unknown> = { line: row.line, status: row.status, id: row.id };
  if (row.changed !== undefined) item.changed = row.changed;
  if (row.message !== undefined) item.message = row.message;
  if (row.warnings !== undefined && row.warnings.length > 0) item.warnings = row.warnings;
  return (first ? '\n' : ',\n') + JSON.stringify(item);
}

export function jsonTail(): string {
  return ']}\n';
}

/** The records of a details table (no header), waiting for the sink to drain as it fills. */
export async function writeDetailsRows(sink: TextSink, rows: RowBatches, columnCount: number): Promise<void> {
  for await (const batch of rows) {
    for (const row of batch) if (sink.add(csvLine(detailsRow(row, columnCount)) + '\n')) await sink.flush();
  }
}

async function writeDetailsTable(sink: TextSink, columns: readonly string[], rows: RowBatches | null): Promise<void> {
  await sink.write(csvLine(detailsHeader(columns)) + '\n');
  if (rows !== null) await writeDetailsRows(sink, rows, columns.length);
}

/**
 * Writes one report kind to `out` (not ended: it is usually stdout). `rows` is
 * streamed as given; choosing which rows a kind shows (e.g. JSON leaving out
 * unchanged rows) is up to the caller.
 */
export async function writeReport(
  out: NodeJS.WritableStream,
  kind: ReportKind,
  s: RunSummary,
  rows: RowBatches | null,
): Promise<void> {
  const sink = new TextSink(out);
  try {
    switch (kind) {
      case 'summary':
        await sink.write(formatSummary(s));
        break;
      case 'details':
        await sink.write(formatSummary(s));
        await writeDetailsTable(sink, s.columns, rows);
        break;
      case 'json':
        if (rows === null) {
          await sink.write(jsonDocument(s));
        } else {
          await sink.write(jsonHead(s));
          let first = true;
          for await (const batch of rows) {
            for (const row of batch) {
              if (sink.add(jsonRow(row, first))) await sink.flush();
              first = false;
            }
          }
          await sink.write(jsonTail());
        }
        break;
      case 'retcode':
        await sink.write(`${s.counts.errors}\n`);
        break;
    }
    await sink.finish();
  } finally {
    sink.release();
  }
}

/** The details table alone, for `--log FILE`. */
export async function writeDetailsFile(path: string, columns: readonly string[], rows: RowBatches): Promise<void> {
  const file = createWriteStream(path);
  const closed = new Promise<void>((resolve, reject) => {
    file.once('close', resolve);
    file.once('error', reject);
  });
  // The rejection is observed by the final await or the catch below; without this
  // early handler an open() failure would surface as an unhandled rejection first.
  closed.catch(() => undefined);
  const sink = new TextSink(file);
  try {
    await writeDetailsTable(sink, columns, rows);
    await sink.finish();
  } catch (err) {
    file.destroy();
    await closed.catch(() => undefined);
    throw err;
  } finally {
    sink.release();
  }
  file.end();
  await closed;
}
