/** `sluice undo --change N`: revert a change from its history, as a change of its own (undo/). */
import { SluiceError } from '../base/errors.js';
import { maskUrl } from '../store/postgres/url.js';
import { storeFor } from '../store/store.js';
import { type UndoOptions, type UndoResult, conflictText } from '../undo/undo.js';
import { helpText, parseCommand, type OptionSpec } from './args.js';

const SPECS: Record<string, OptionSpec> = {
  change: { type: 'string', value: 'N', help: 'the change to revert (its id, as sluice changes lists it)' },
  simulate: { type: 'boolean', help: 'do everything, report it, then roll back' },
  force: { type: 'boolean', help: 'revert what does not conflict with later changes, and report the rest (exit 1)' },
  comment: { type: 'string', value: 'TEXT', help: "the undo's change tracking comment" },
  format: { type: 'string', value: 'text|json', help: 'text for a terminal, json for scripts', default: 'text' },
  db: { type: 'string', value: 'FILE|URL', help: 'database file, or postgres://user@host/db[?schema=NAME] (docs/postgres.md)', default: 'SLUICE_DB or ./sluice.db' },
};

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function report(r: UndoResult): string {
  const t = r.target;
  const c = r.counts;
  const lines = [`undo of change ${t.id} (${t.action} ${t.className}, ${t.startedAt}): ${r.outcome}`];
  if (r.outcome !== 'refused') {
    const replicas = c.replicas > 0 ? `; put back ${plural(c.replicas, 'data source replica')} as they were` : '';
    lines.push(`  deleted ${plural(c.deleted, 'object')} it created, restored ${plural(c.restored, 'object')} it updated, recreated ${plural(c.recreated, 'object')} it deleted${replicas}`);
  }
  if (r.conflicts.length > 0) {
    lines.push(`  ${plural(r.conflicts.length, 'conflict')}${r.outcome === 'refused' ? '' : ` (${plural(c.skipped, 'object')} left as they are)`}:`);
    for (const x of r.conflicts) lines.push(`    ${conflictText(x)}`);
  }
  if (r.undoChange !== null) lines.push(`  recorded as change ${r.undoChange} (sluice undo --change ${r.undoChange} takes it back)`);
  return lines.join('\n') + '\n';
}

export async function undoCommand(argv: string[]): Promise<number> {
  const a = parseCommand('undo', argv, SPECS);
  if (a.help) {
    process.stdout.write(helpText('undo', '--change N [--simulate] [--force] [--comment TEXT] [--format text|json] [--db FILE|URL]', SPECS, 'sluice undo --change 12 --simulate'));
    return 0;
  }
  const raw = a.change as string | undefined;
  if (raw === undefined) throw new SluiceError('E_USAGE', '--change is required (the change to revert; sluice changes lists them)', { option: '--change' });
  const change = Number(raw.trim());
  if (raw.trim() === '' || !Number.isSafeInteger(change) || change < 1) throw new SluiceError('E_USAGE', `--change: "${raw}" is not valid (a change id, a whole number of at least 1)`, { option: '--change' });
  const format = ((a.format as string | undefined) ?? 'text').toLowerCase();
  if (format !== 'text' && format !== 'json') throw new SluiceError('E_USAGE', `--format: "${String(a.format)}" is not valid (valid: text, json)`, { option: '--format' });
  const db = (a.db as string | undefined) ?? process.env.SLUICE_DB ?? 'sluice.db';
  const o: UndoOptions = {
    db,
    change,
    simulate: a.simulate === true,
    force: a.force === true,
    comment: (a.comment as string | undefined) ?? '',
    onWaiting: () => process.stderr.write(`sluice: another import is writing to ${maskUrl(db)}; waiting for it to finish…\n`),
  };
  let started = false;
  o.onStarted = () => {
    started = true;
  };
  let r: UndoResult;
  try {
    r = await (await storeFor(db)).runUndo(o);
  } catch (err) {
    // A database failure once the undo began: its transaction was rolled back (exit 3, as an import's).
    if (!started || !(err instanceof SluiceError) || err.code !== 'E_DB') throw err;
    process.stderr.write(`sluice: ${err.message}\n`);
    return 3;
  }
  if (format === 'json') process.stdout.write(JSON.stringify(r, null, 2) + '\n');
  else process.stdout.write(report(r));
  if (r.outcome === 'refused') {
    process.stderr.write(`sluice: undo of change ${change} refused: ${plural(r.conflicts.length, 'conflict')} with later changes (listed above); nothing was written. --force reverts the rest.\n`);
    return 3;
  }
  return r.conflicts.length > 0 ? 1 : 0;
}
