import { createWriteStream, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SluiceError } from '../base/errors.js';
import { normalizeExportOptions } from '../export/options.js';
import { type ExportJob, openAnyExport } from '../export/run.js';
import { helpText, parseCommand, type OptionSpec } from './args.js';

export const EXPORT_SPECS: Record<string, OptionSpec> = {
  class: { type: 'string', value: 'C', help: 'class to export (sluice schema lists them)' },
  columns: {
    type: 'string',
    value: 'a,org_id->name',
    help: 'columns by code or label; references as attr->sub (a plain reference column holds the id); id, source, source_id',
    default: 'every attribute but passwords, references by their class\'s reconciliation attributes, source and source_id when used',
  },
  format: { type: 'string', value: 'csv|tsv|json', help: 'output format; json is one array of objects keyed by the column names', default: 'csv' },
  separator: { type: 'string', value: 'X', help: 'csv field separator: , ; tab | or any one character', default: ',' },
  charset: { type: 'string', value: 'X', help: 'output charset (UTF-8, UTF-16LE, ISO-8859-1, WINDOWS-1252, ...)', default: 'UTF-8' },
  raw: { type: 'boolean', help: "write cells starting with = + - @ as they are (by default they get a ' prefix against spreadsheet formulas); use it for a file to import back" },
  db: { type: 'string', value: 'FILE|URL', help: 'database file, or postgres://user@host/db[?schema=NAME] (docs/postgres.md)', default: 'SLUICE_DB or ./sluice.db' },
  output: { type: 'string', value: 'FILE', help: 'write to FILE (replaced only once the export is complete)', default: 'standard output' },
};

export async function exportCommand(argv: string[]): Promise<number> {
  const a = parseCommand('export', argv, EXPORT_SPECS);
  if (a.help) {
    process.stdout.write(helpText('export', '--class C [options]', EXPORT_SPECS, 'sluice export --class Person --columns name,first_name,email,org_id->name --raw --output people.csv'));
    return 0;
  }
  const s = (k: string): string | undefined => a[k] as string | undefined;
  const o = normalizeExportOptions({
    db: s('db'),
    className: s('class'),
    columns: s('columns'),
    format: s('format'),
    separator: s('separator'),
    charset: s('charset'),
    raw: a.raw === true,
    output: s('output'),
  });
  if (o.output !== undefined) checkOutputPath(o.output);
  const job = await openAnyExport(o, s('db') === undefined && process.env.SLUICE_DB !== undefined ? '--db (SLUICE_DB)' : '--db');
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (o.output === undefined) {
      await job.write(process.stdout, stop.signal);
    } else {
      const rows = await writeFile(job, o.output, stop.signal);
      process.stderr.write(`sluice: exported ${rows} ${job.cls.name} object${rows === 1 ? '' : 's'} to ${o.output}\n`);
    }
    for (const w of job.warnings()) process.stderr.write(`sluice: warning: ${w}\n`);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await job.close();
  }
}

function checkOutputPath(path: string): void {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    // a file that does not exist yet is the usual case
  }
  if (isDir) throw new SluiceError('E_USAGE', `--output: ${path} is a directory; give a file name`, { option: '--output', file: path });
}

function openError(err: unknown, path: string): SluiceError {
  const code = (err as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'no such directory' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EROFS' ? 'read-only file system' : (code ?? String(err));
  return new SluiceError('E_USAGE', `--output: cannot write ${path} (${why})`, { option: '--output', file: path, cause: err });
}

/**
 * Writes beside the destination and renames at the end, so a failed or interrupted
 * export never leaves a truncated file where a complete one is expected.
 */
async function writeFile(job: ExportJob, path: string, signal: AbortSignal): Promise<number> {
  const part = join(dirname(path), `.${basename(path)}.${process.pid}.part`);
  const file = createWriteStream(part, { flags: 'wx' });
  const closed = new Promise<void>((resolve, reject) => {
    file.once('close', resolve);
    file.once('error', reject);
  });
  // Observed by the awaits below; without this an open() failure would first surface as an unhandled rejection.
  closed.catch(() => undefined);
  try {
    await new Promise<void>((resolve, reject) => {
      file.once('ready', resolve);
      file.once('error', (err) => reject(openError(err, path)));
    });
    const stats = await job.write(file, signal);
    file.end();
    await closed;
    renameSync(part, path);
    return stats.rows;
  } catch (err) {
    file.destroy();
    await closed.catch(() => undefined);
    rmSync(part, { force: true });
    if (err instanceof SluiceError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new SluiceError('E_INTERNAL', `cannot write ${path}: ${code === 'ENOSPC' ? 'the disk is full' : (err as Error).message}${code ? ` (${code})` : ''}`, { file: path, option: '--output', cause: err });
  }
}
