/**
 * A bundle's report (engine/bundle.ts): a section per file, each what `sluice import` reports
 * for one file, then the bundle's own lines. Streamed as format.ts streams one file's.
 *
 * summary / details: each file's section opens with `#File: NAME`; sections are separated
 * by an empty line; the bundle's lines come last (`#Bundle`, `#Order`, the totals, `#Change`,
 * `#Result`), so a reader of `#Key: value` lines that keeps the last of each gets the totals.
 * json: one document, `{bundle, order, simulate, change, outcome, <totals>, not_run, files:
 * [{file, <the file's document>}]}`. retcode: the number of rows in error in all files.
 */
import { escapeControls } from '../base/errors.js';
import type { BundleSummary } from '../engine/bundle.js';
import { type ReportKind, detailsHeader, formatSummary, jsonDocument, jsonHead, jsonRow, jsonTail, writeDetailsRows } from './format.js';
import { csvLine } from './csv.js';
import { TextSink } from './sink.js';
import type { RowBatches, RunSummary } from './types.js';

export interface BundleSection {
  name: string;
  summary: RunSummary;
  rows: RowBatches | null;
}

function oneLine(value: string): string {
  return escapeControls(value.replace(/\r\n|[\r\n]/g, ' '));
}

/** The bundle's own lines, after the files' sections. */
export function formatBundleSummary(b: BundleSummary): string {
  const c = b.counts;
  const lines = [
    `#Bundle: ${escapeControls(b.name)}`,
    `#Order: ${b.order.map((f) => `${escapeControls(f.name)} (${f.className})`).join(', ')}`,
    `#Simulate: ${b.simulate ? 'yes' : 'no'}`,
    `#Data Lines: ${b.lines}`,
    `#Issues: ${c.errors}`,
    `#Warnings: ${c.warnings}`,
    `#Created: ${c.created}`,
    `#Updated: ${c.updated}`,
    `#Unchanged: ${c.unchanged}`,
    `#Deleted: ${c.deleted}`,
    `#Skipped: ${c.skipped}`,
    `#Elapsed: ${b.elapsedS.toFixed(3)}s`,
  ];
  if (b.change !== null) lines.push(`#Change: ${b.change}`);
  lines.push(`#Result: ${b.outcome}`);
  if (b.notRun.length > 0) lines.push(`#Not run: ${b.notRun.map(escapeControls).join(', ')}`);
  if (b.stopMessage !== null) lines.push(`#Stopped: ${oneLine(b.stopMessage)}`);
  return lines.join('\n') + '\n';
}

/** The bundle's JSON document up to and including `"files":[`. */
export function bundleJsonHead(b: BundleSummary): string {
  const c = b.counts;
  const doc = {
    bundle: b.name,
    order: b.order.map((f) => ({ file: f.name, class: f.className })),
    simulate: b.simulate,
    change: b.change,
    outcome: b.outcome,
    created: c.created,
    updated: c.updated,
    unchanged: c.unchanged,
    deleted: c.deleted,
    skipped: c.skipped,
    errors: c.errors,
    warnings: c.warnings,
    lines: b.lines,
    elapsed_s: Math.round(b.elapsedS * 1000) / 1000,
    stopped: b.stopMessage,
    not_run: b.notRun,
  };
  return JSON.stringify(doc).slice(0, -1) + ',"files":[';
}

/** A file's JSON document opening with its name: `{"file":NAME,` then what format.ts writes. */
function fileHead(name: string, s: RunSummary, withRows: boolean): string {
  const doc = withRows ? jsonHead(s) : jsonDocument(s).trimEnd();
  return `{"file":${JSON.stringify(name)},${doc.slice(1)}`;
}

/** Write a bundle's report of kind `kind` to `out` (not ended). */
export async function writeBundleReport(out: NodeJS.WritableStream, kind: ReportKind, b: BundleSummary, sections: readonly BundleSection[]): Promise<void> {
  const sink = new TextSink(out);
  try {
    switch (kind) {
      case 'summary':
      case 'details':
        for (const f of sections) {
          await sink.write(`#File: ${escapeControls(f.name)}\n${formatSummary(f.summary)}`);
          if (kind === 'details') {
            await sink.write(csvLine(detailsHeader(f.summary.columns)) + '\n');
            if (f.rows) await writeDetailsRows(sink, f.rows, f.summary.columns.length);
          }
          await sink.write('\n');
        }
        await sink.write(formatBundleSummary(b));
        break;
      case 'json':
        await sink.write(bundleJsonHead(b));
        for (const [k, f] of sections.entries()) {
          await sink.write((k === 0 ? '\n' : ',\n') + fileHead(f.name, f.summary, f.rows !== null));
          if (f.rows) {
            let first = true;
            for await (const batch of f.rows) {
              for (const row of batch) {
                if (sink.add(jsonRow(row, first))) await sink.flush();
                first = false;
              }
            }
            await sink.write(jsonTail().trimEnd());
          }
        }
        await sink.write(']}\n');
        break;
      case 'retcode':
        await sink.write(`${b.counts.errors}\n`);
        break;
    }
    await sink.finish();
  } finally {
    sink.release();
  }
}

/** `--log FILE` of a bundle: each file's details table under a `#File: NAME` line, an empty line between. */
export async function writeBundleLog(out: NodeJS.WritableStream, sections: readonly BundleSection[]): Promise<void> {
  const sink = new TextSink(out);
  try {
    for (const [k, f] of sections.entries()) {
      await sink.write(`${k === 0 ? '' : '\n'}#File: ${escapeControls(f.name)}\n` + csvLine(detailsHeader(f.summary.columns)) + '\n');
      if (f.rows) await writeDetailsRows(sink, f.rows, f.summary.columns.length);
    }
    await sink.finish();
  } finally {
    sink.release();
  }
}
