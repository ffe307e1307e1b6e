/**
 * `sluice token add|list|revoke`: the bearer tokens `sluice serve` accepts (SPEC §6),
 * kept hashed in the service's database beside the job table (http/tokens.ts), in the
 * spool directory of the database the server serves (cli/service-db.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SluiceError, quoted } from '../base/errors.js';
import { readStoredModel } from '../export/reader.js';
import { JobStore } from '../http/jobs.js';
import { type TokenInfo, checkRole, checkTokenName } from '../http/tokens.js';
import { findClass } from '../model/load.js';
import { openStore } from '../model/store.js';
import type { Model } from '../model/types.js';
import { helpText, parseCommand, subcommand, withName, type OptionSpec, type Parsed } from './args.js';
import { DB_SPEC, SPOOL_SPEC, serviceDb } from './service-db.js';

const DB: OptionSpec = { ...DB_SPEC, help: 'the database the server serves: a file, or a postgres:// URL (docs/postgres.md)' };
const SPOOL: OptionSpec = SPOOL_SPEC;

const ADD_SPECS: Record<string, OptionSpec> = {
  name: { type: 'string', value: 'N', help: 'what the token is for, e.g. hr-feed: letters, digits, _ . -' },
  role: { type: 'string', value: 'R', help: 'admin (everything), importer (import, sync and cancel in its classes, read their jobs and exports), reader (export and read job states only)' },
  classes: { type: 'string', value: 'A,B', help: 'the classes an importer or reader may touch', default: 'every class' },
  db: DB,
  spool: SPOOL,
};

const LIST_SPECS: Record<string, OptionSpec> = {
  format: { type: 'string', value: 'text|json', help: 'text for a terminal, json for scripts', default: 'text' },
  db: DB,
  spool: SPOOL,
};

const REVOKE_SPECS: Record<string, OptionSpec> = {
  name: { type: 'string', value: 'N', help: 'the token to revoke (or give it as the first argument)' },
  db: DB,
  spool: SPOOL,
};

const USAGE = `Usage: sluice token <add|list|revoke> [options]

  add      create a token for sluice serve; it is printed once, and kept only as a hash
  list     list the tokens: name, role, classes, when created, last used or revoked
  revoke   revoke a token: the server refuses it from its next request

Run "sluice token <subcommand> --help" for its options.
`;

/**
 * The tokens of the service on `--db`, which must be a Sluice database, and its model (null
 * when not `withModel`). A PostgreSQL schema is read only to add a token (its model names the
 * classes): listing and revoking read the spool alone, so that a token can be revoked while
 * the database server is down; the spool must then hold tokens already.
 */
async function openTokens(a: Parsed, withModel: boolean): Promise<{ store: JobStore; model: Model | null }> {
  const t = serviceDb(a);
  let model: Model | null = null;
  if (!t.postgres) {
    const { db: conn, model: m } = openStore(t.db, { create: false, readonly: true });
    conn.close();
    model = m;
  } else if (withModel) {
    model = await readStoredModel(t.db, t.option);
  } else if (!existsSync(join(t.spool, 'jobs.db'))) {
    throw new SluiceError('E_USAGE', `${t.spoolOption ?? '--spool'}: ${t.spool} holds no tokens (it has no jobs.db); sluice token add creates them there`, { option: '--spool' });
  }
  return { store: new JobStore(t.spool, t.spoolOption), model };
}

function classesText(t: TokenInfo): string {
  return t.classes === null ? 'every class' : t.classes.join(', ');
}

async function add(argv: string[]): Promise<number> {
  const a = parseCommand('token add', argv, ADD_SPECS);
  if (a.help) {
    process.stdout.write(helpText('token add', '--name N --role admin|importer|reader [--classes A,B] [--db FILE|URL] [--spool DIR]', ADD_SPECS, 'sluice token add --name hr-feed --role importer --classes Person,Organization'));
    return 0;
  }
  if (a.name === undefined) throw new SluiceError('E_USAGE', '--name is required (what the token is for, e.g. --name hr-feed)', { option: '--name' });
  if (a.role === undefined) throw new SluiceError('E_USAGE', '--role is required (valid: admin, importer, reader)', { option: '--role' });
  const name = checkTokenName(a.name as string);
  const role = checkRole(a.role as string);
  const { store, model } = await openTokens(a, true);
  try {
    let classes: string[] | null = null;
    if (a.classes !== undefined && model !== null) {
      if (role === 'admin') throw new SluiceError('E_USAGE', '--classes: an admin token may touch every class; give --classes to an importer or a reader', { option: '--classes' });
      classes = [];
      for (const c of (a.classes as string).split(',')) {
        if (c.trim() === '') continue;
        const cls = findClass(model, c.trim(), '--classes');
        if (!classes.includes(cls.name)) classes.push(cls.name);
      }
      if (classes.length === 0) throw new SluiceError('E_USAGE', '--classes: name at least one class (sluice schema lists them), or leave the option out for every class', { option: '--classes' });
    }
    const token = store.tokens.add(name, role, classes);
    process.stdout.write(`${token}\n`);
    process.stderr.write(`sluice: token ${quoted(name)} (${role}, ${classes === null ? 'every class' : classes.join(', ')}) created; it is shown only this once: keep it now\n`);
  } finally {
    store.close();
  }
  return 0;
}

async function list(argv: string[]): Promise<number> {
  const a = parseCommand('token list', argv, LIST_SPECS);
  if (a.help) {
    process.stdout.write(helpText('token list', '[--format text|json] [--db FILE|URL] [--spool DIR]', LIST_SPECS, 'sluice token list'));
    return 0;
  }
  const format = ((a.format as string | undefined) ?? 'text').toLowerCase();
  if (format !== 'text' && format !== 'json') throw new SluiceError('E_USAGE', `--format: ${quoted(String(a.format))} is not valid (valid: text, json)`, { option: '--format' });
  const { store } = await openTokens(a, false);
  try {
    const tokens = store.tokens.list();
    if (format === 'json') {
      process.stdout.write(JSON.stringify(tokens, null, 2) + '\n');
    } else if (tokens.length === 0) {
      process.stdout.write('no tokens yet; create one with: sluice token add --name N --role admin|importer|reader\n');
    } else {
      for (const t of tokens) {
        const state = t.revokedAt !== null ? `revoked ${t.revokedAt}` : `last used ${t.lastUsedAt ?? 'never'}`;
        process.stdout.write(`${t.name}  ${t.role}  ${classesText(t)}  created ${t.createdAt}  ${state}\n`);
      }
    }
  } finally {
    store.close();
  }
  return 0;
}

async function revoke(argv: string[]): Promise<number> {
  const a = parseCommand('token revoke', withName(argv), REVOKE_SPECS);
  if (a.help) {
    process.stdout.write(helpText('token revoke', 'NAME [--db FILE|URL] [--spool DIR]', REVOKE_SPECS, 'sluice token revoke hr-feed'));
    return 0;
  }
  if (a.name === undefined) throw new SluiceError('E_USAGE', 'sluice token revoke: which token? (give its name: sluice token revoke NAME; sluice token list shows them)', { option: '--name' });
  const { store } = await openTokens(a, false);
  try {
    const t = store.tokens.revoke(a.name as string);
    process.stdout.write(`token ${t.name} revoked (${t.revokedAt})\n`);
  } finally {
    store.close();
  }
  return 0;
}

export function tokenCommand(argv: string[]): Promise<number> | number {
  return subcommand('token', argv, { add, list, revoke }, USAGE);
}
