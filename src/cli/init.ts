import { resolveModel, initStore } from '../model/store.js';
import { helpText, parseCommand, type OptionSpec } from './args.js';

const SPECS: Record<string, OptionSpec> = {
  db: { type: 'string', value: 'FILE', help: 'database file to create', default: 'SLUICE_DB or ./sluice.db' },
  model: { type: 'string', value: 'cmdb|FILE.json', help: 'the data model', default: 'cmdb' },
};

export function initCommand(argv: string[]): number {
  const a = parseCommand('init', argv, SPECS);
  if (a.help) {
    process.stdout.write(helpText('init', '[--db FILE] [--model cmdb|FILE.json]', SPECS, 'sluice init --db cmdb.db'));
    return 0;
  }
  const db = (a.db as string | undefined) ?? process.env.SLUICE_DB ?? 'sluice.db';
  const model = resolveModel(a.model as string | undefined);
  initStore(db, model);
  process.stdout.write(`created ${db} with ${model.classes.size} classes (${[...model.classes.keys()].join(', ')})\n`);
  return 0;
}
