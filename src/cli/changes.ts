/**
 * `sluice changes` lists the recorded runs (`_sluice_change`); `sluice history` shows
 * what one of them did to each object, streamed from `_sluice_history`.
 */
import { SluiceError } from '../base/errors.js';
import { TextSink } from '../report/sink.js';
import { HISTORY_COLUMNS, csvRecord, expandHistory, jsonRecord, textLine } from '../export/history.js';
import { type StoreReader, openReader } from '../export/reader.js';
import { csvLine } from '../report/csv.js';
import { helpText, parseCommand, type OptionSpec } from './args.js';
import type { ChangeRow } from '../export/changes.js';

const DB: OptionSpec = { type: 'string', value: 'FILE|URL', help: 'database file, or postgres://user@host/db[?schema=NAME] (docs/postgres.md)', default: 'SLUICE_DB or ./sluice.db' };

const CHANGES_SPECS: Record<string, OptionSpec> = {
  limit: { type: 'string', value: 'N', help: 'show the N most recent runs', default: '20' },
  format: { type: 'string', value: 'text|json', help: 'text for a terminal, json for scripts', default: 'text' },
  db: DB,
};

const HISTORY_SPECS: Record<string, OptionSpec> = {
  change: { type: 'string', value: 'N', help: 'the run to show (its id, as sluice changes lists it)' },
  format: { type: 'string', value: 'text|csv|json', help: 'text for a terminal; csv and json give one record per object and attribute', default: 'text' },
  raw: { type: 'boolean', help: "csv: write values starting with = + - @ as they are (by default they get a ' prefix against spreadsheet formulas)" },
  db: DB,
};

function formatOf(value: unknown, valid: readonly string[]): string {
  const f = ((value as string | undefined) ?? valid[0] as string).toLowerCase();
  if (!valid.includes(f)) throw new SluiceError('E_USAGE', `--format: "${String(value)}" is not valid (valid: ${valid.join(', ')})`, { option: '--format' });
  return f;
}

function positiveInt(option: string, value: string): number {
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isSafeInteger(n) || n < 1) throw new SluiceError('E_USAGE', `${option}: "${value}" is not valid (a whole number of at least 1)`, { option });
  return n;
}

/** The store --db (or SLUICE_DB) names, opened for reading in one snapshot. */
function openDb(a: Record<string, unknown>): Promise<StoreReader> {
  const given = a.db as string | undefined;
  const env = process.env.SLUICE_DB;
  return openReader(given ?? env ?? 'sluice.db', given === undefined && env !== undefined ? '--db (SLUICE_DB)' : '--db');
}

function duration(c: ChangeRow): string {
  if (c.finished_at === null) return 'not finished';
  const ms = Date.parse(c.finished_at) - Date.parse(c.started_at);
  if (!Number.isFinite(ms)) return '';
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** One run as a short block: what, when, by whom, and its counts. */
export function changeText(c: ChangeRow): string {
  const lines = [
    `change ${c.id}  ${c.outcome}${c.undone_by !== null ? ` (undone by change ${c.undone_by})` : ''}  ${c.class}  ${c.action}  by ${c.user}`,
    `  started   ${c.started_at}${c.finished_at === null ? '  (not finished)' : `  finished ${c.finished_at} (${duration(c)})`}`,
    `  file      ${c.file === '' ? '-' : c.file}  (${c.lines} line${c.lines === 1 ? '' : 's'})`,
    `  counts    created ${c.created}, updated ${c.updated}, unchanged ${c.unchanged}, deleted ${c.deleted}, skipped ${c.skipped}, errors ${c.errors}, warnings ${c.warnings}`,
  ];
  if (c.comment !== '') lines.push(`  comment   ${c.comment.replace(/\r\n|[\r\n]/g, ' ')}`);
  return lines.join('\n') + '\n';
}

export async function changesCommand(argv: string[]): Promise<number> {
  const a = parseCommand('changes', argv, CHANGES_SPECS);
  if (a.help) {
    process.stdout.write(helpText('changes', '[--limit N] [--format text|json] [--db FILE|URL]', CHANGES_SPECS, 'sluice changes --limit 5'));
    return 0;
  }
  const format = formatOf(a.format, ['text', 'json']);
  const limit = a.limit === undefined ? 20 : positiveInt('--limit', a.limit as string);
  const reader = await openDb(a);
  let rows: ChangeRow[];
  let total: number;
  try {
    ({ rows, total } = await reader.recentChanges(limit));
  } finally {
    await reader.close();
  }
  if (format === 'json') {
    process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    return 0;
  }
  if (rows.length === 0) {
    process.stdout.write('no changes recorded yet\n');
    return 0;
  }
  process.stdout.write(rows.map(changeText).join('\n'));
  if (total > rows.length) process.stdout.write(`\n(the ${rows.length} most recent of ${total} changes; --limit N shows more)\n`);
  return 0;
}

export async function historyCommand(argv: string[]): Promise<number> {
  const a = parseCommand('history', argv, HISTORY_SPECS);
  if (a.help) {
    process.stdout.write(helpText('history', '--change N [--format text|csv|json] [--db FILE|URL]', HISTORY_SPECS, 'sluice history --change 3 --format csv > change-3.csv'));
    return 0;
  }
  if (a.change === undefined) throw new SluiceError('E_USAGE', '--change: is required (the id of a run; sluice changes lists them)', { option: '--change' });
  const id = positiveInt('--change', a.change as string);
  const format = formatOf(a.format, ['text', 'csv', 'json']);
  const reader = await openDb(a);
  try {
    const change = await reader.change(id);
    if (!change) {
      const r = await reader.changeIds();
      const valid = r.lo === null ? 'the database has no changes yet' : `valid: ${r.lo}${r.hi === r.lo ? '' : `–${r.hi}`}; sluice changes lists them`;
      throw new SluiceError('E_USAGE', `--change: there is no change ${id} (${valid})`, { option: '--change' });
    }
    const { model } = reader;
    const isLinks = (cls: string, attr: string): boolean => model.classes.get(cls)?.byCode.get(attr)?.type === 'links';
    const isPassword = (cls: string, attr: string): boolean => model.classes.get(cls)?.byCode.get(attr)?.type === 'password';
    const guard = a.raw !== true;
    const sink = new TextSink(process.stdout, 'UTF-8');
    try {
      if (format === 'text') sink.add(changeText(change) + '\n');
      else if (format === 'csv') sink.add(csvLine(HISTORY_COLUMNS) + '\n');
      else sink.add('[');
      let first = true;
      let n = 0;
      for await (const page of reader.historyPages(id)) {
        for (const e of page) {
          n++;
          let text = '';
          for (const c of expandHistory(e, isLinks, isPassword)) {
            if (format === 'text') text += textLine(c);
            else if (format === 'csv') text += csvRecord(c, guard);
            else {
              text += (first ? '\n' : ',\n') + jsonRecord(c);
              first = false;
            }
          }
          if (sink.add(text)) await sink.flush();
        }
      }
      if (format === 'json') sink.add(first ? ']\n' : '\n]\n');
      if (format === 'text' && n === 0) sink.add(change.outcome === 'committed' ? '(no object was created, updated or deleted)\n' : `(nothing kept: the run was ${change.outcome})\n`);
      await sink.finish();
    } finally {
      sink.release();
    }
  } finally {
    await reader.close();
  }
  return 0;
}
