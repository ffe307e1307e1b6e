/**
 * Several read commands (`export`, `changes`, `history`) run one after another in one
 * process, through the same command functions as `sluice`, each one's standard output and
 * standard error captured: a comparison that reads a database back a dozen times starts
 * one process instead of a dozen.
 *
 *   node read-back.js '[["export","--class","Person","--db","x.db"],["changes","--db","x.db"]]'
 *
 * prints a JSON array of { code, stdout, stderr }, one per command, in order.
 */
import { captured, commandOf } from './captured.js';
import type { CliResult } from './cli.js';

/** The commands read-back runs: those that only read. */
const READS = new Set(['export', 'changes', 'history']);

const commands = JSON.parse(process.argv[2] ?? '[]') as string[][];
const results: CliResult[] = [];
for (const [name, ...rest] of commands) {
  results.push(
    await captured(async () => {
      if (!READS.has(name ?? '')) throw new Error(`read-back runs export, changes and history, not ${String(name)}`);
      return (await commandOf(name)).call(null, rest);
    }),
  );
}
process.stdout.write(JSON.stringify(results));
