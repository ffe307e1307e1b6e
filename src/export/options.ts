/** Export options, checked in one place before the database is opened; every message names the option. */
import { SluiceError } from '../base/errors.js';
import { checkCharset } from '../input/decode.js';
import { splitColumns } from './columns.js';
import type { ExportFormat } from './rows.js';

export const EXPORT_FORMATS: readonly ExportFormat[] = ['csv', 'tsv', 'json'];

export interface ExportOptions {
  /** an SQLite file, or a PostgreSQL URL */
  db: string;
  className: string;
  /** requested columns as given; undefined = the defaults */
  columns: string[] | undefined;
  format: ExportFormat;
  separator: string;
  /** canonical charset name ('UTF-8', 'ISO-8859-1', …) */
  charset: string;
  /** prefix formula-looking cells with ' (off with --raw) */
  guard: boolean;
  /** a file path; undefined = standard output */
  output: string | undefined;
}

export interface RawExportOptions {
  db?: string | undefined;
  className?: string | undefined;
  columns?: string | undefined;
  format?: string | undefined;
  separator?: string | undefined;
  charset?: string | undefined;
  raw?: boolean | undefined;
  output?: string | undefined;
}

function bad(option: string, message: string): never {
  throw new SluiceError('E_USAGE', `${option}: ${message}`, { option });
}

const NAMED: Record<string, string> = { tab: '\t', '\\t': '\t', comma: ',', semicolon: ';', pipe: '|', space: ' ' };

function separatorOf(value: string): string {
  const v = NAMED[value.toLowerCase()] ?? value;
  if ([...v].length !== 1) bad('--separator', `"${value}" is not one character (e.g. , ; tab |)`);
  if (v.charCodeAt(0) > 127) bad('--separator', `"${value}" must be an ASCII character`);
  if (v === '\n' || v === '\r') bad('--separator', 'a line break cannot be used');
  if (v === '"') bad('--separator', 'the quote character " cannot be used (it encloses cells)');
  return v;
}

export function normalizeExportOptions(raw: RawExportOptions): ExportOptions {
  if (!raw.className) bad('--class', 'is required (the class to export, e.g. --class Person; "sluice schema" lists them)');
  const format = (raw.format ?? 'csv').toLowerCase() as ExportFormat;
  if (!EXPORT_FORMATS.includes(format)) bad('--format', `"${raw.format}" is not valid (valid: ${EXPORT_FORMATS.join(', ')})`);
  let separator = format === 'tsv' ? '\t' : ',';
  if (raw.separator !== undefined && raw.separator !== '') {
    if (format !== 'csv') bad('--separator', `applies to --format csv only (${format === 'tsv' ? 'tsv is always tab-separated' : 'json has no separator'})`);
    separator = separatorOf(raw.separator);
  }
  const charset = raw.charset === undefined || raw.charset === '' ? 'UTF-8' : checkCharset(raw.charset);
  if (raw.output === '') bad('--output', 'needs a file name (or - for standard output)');
  return {
    db: raw.db ?? process.env.SLUICE_DB ?? 'sluice.db',
    className: raw.className,
    columns: raw.columns === undefined ? undefined : splitColumns(raw.columns),
    format,
    separator,
    charset,
    guard: raw.raw !== true,
    output: raw.output === undefined || raw.output === '-' ? undefined : raw.output,
  };
}
