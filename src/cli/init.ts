import { resolveModel } from '../model/store.js';
import { storeFor } from '../store/store.js';
import { helpText, parseCommand, type OptionSpec } from './args.js';

const SPECS: Record<string, OptionSpec> = {
  db: {
    type: 'string',
    value: 'FILE|URL',
    help: 'database file to create; or postgres://user@host/db[?schema=NAME]: create schema NAME (sluice if not given) in that PostgreSQL database',
    default: 'SLUICE_DB or ./sluice.db',
  },
  model: { type: 'string', value: 'cmdb|FILE.json', help: 'the data model', default: 'cmdb' },
};

export async function initCommand(argv: string[]): Promise<number> {
  const a = parseCommand('init', argv, SPECS);
  if (a.help) {
    process.stdout.write(helpText('init', '[--db FILE|URL] [--model cmdb|FILE.json]', SPECS, 'sluice init --db cmdb.db   or   sluice init --db postgres://sluice@localhost/cmdb'));
    return 0;
  }
  const given = a.db as string | undefined;
  const db = given ?? process.env.SLUICE_DB ?? 'sluice.db';
  const model = resolveModel(a.model as string | undefined);
  const classes = `${model.classes.size} classes (${[...model.classes.keys()].join(', ')})`;
  const created = await (await storeFor(db)).init(db, model, given === undefined ? '--db (SLUICE_DB)' : '--db');
  process.stdout.write(`created ${created} with ${classes}\n`);
  return 0;
}
