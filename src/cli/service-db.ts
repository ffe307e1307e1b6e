/**
 * The database and the spool directory of `sluice serve` and `sluice token`: `--db` (or
 * SLUICE_DB), an SQLite file or a PostgreSQL URL, and `--spool` (or SLUICE_SPOOL), where the
 * service keeps its uploads, job logs and its own SQLite database of jobs and tokens (jobs.db).
 *
 * An SQLite file F has its spool beside it, F.spool/, unless --spool moves it. A PostgreSQL URL
 * names no place on this machine, and a spool under the current directory would change with
 * it: the service and `sluice token` would then disagree on the tokens. So the spool is
 * required there, and both commands are given the same one.
 */
import { resolve } from 'node:path';
import type { OptionSpec, Parsed } from './args.js';
import { SluiceError } from '../base/errors.js';
import { spoolDirOf } from '../http/jobs.js';
import { isPostgresUrl, maskUrl, parsePostgresUrl } from '../store/postgres/url.js';

export const DB_SPEC: OptionSpec = {
  type: 'string',
  value: 'FILE|URL',
  help: 'the database: a file (sluice serve creates it with the cmdb model if missing), or postgres://user@host/db[?schema=NAME], whose schema sluice init made (docs/postgres.md)',
  default: 'SLUICE_DB or ./sluice.db',
};

export const SPOOL_SPEC: OptionSpec = {
  type: 'string',
  value: 'DIR',
  help: 'where the service keeps uploads, job logs, its jobs and the tokens (DIR/jobs.db); required with a PostgreSQL URL, and the same for sluice serve and sluice token',
  default: 'SLUICE_SPOOL, or FILE.spool beside an SQLite FILE',
};

export interface ServiceDb {
  /** the database as the engine takes it: an absolute file path, or the URL as given */
  db: string;
  postgres: boolean;
  /** the database as messages show it: the path, or the URL with its password masked */
  shown: string;
  /** how messages name where the database came from: `--db`, or `--db (SLUICE_DB)` */
  option: string;
  /** the spool directory, absolute */
  spool: string;
  /** how messages name the spool: `--spool` when it was given (or SLUICE_SPOOL), null when it is the file's F.spool */
  spoolOption: string | null;
}

/** The database and spool a command's options (or the environment) name; a PostgreSQL URL is checked, not connected to. */
export function serviceDb(a: Parsed): ServiceDb {
  const given = a.db as string | undefined;
  const raw = given ?? process.env.SLUICE_DB ?? 'sluice.db';
  const option = given === undefined && process.env.SLUICE_DB !== undefined ? '--db (SLUICE_DB)' : '--db';
  const spoolGiven = (a.spool as string | undefined) ?? process.env.SLUICE_SPOOL;
  const spoolOption = a.spool !== undefined ? '--spool' : spoolGiven !== undefined ? '--spool (SLUICE_SPOOL)' : null;
  if (spoolGiven !== undefined && spoolGiven.trim() === '') throw new SluiceError('E_USAGE', `${spoolOption}: give a directory`, { option: '--spool' });
  if (isPostgresUrl(raw)) {
    parsePostgresUrl(raw, option);
    const shown = maskUrl(raw);
    if (spoolGiven === undefined) {
      throw new SluiceError(
        'E_USAGE',
        `--spool is required with a PostgreSQL database (${option} ${shown}): the directory where sluice serve keeps its uploads, job logs, jobs and tokens; give sluice token the same one (or set SLUICE_SPOOL)`,
        { option: '--spool' },
      );
    }
    return { db: raw, postgres: true, shown, option, spool: resolve(spoolGiven), spoolOption };
  }
  const db = resolve(raw);
  return { db, postgres: false, shown: db, option, spool: resolve(spoolGiven ?? spoolDirOf(db)), spoolOption };
}
