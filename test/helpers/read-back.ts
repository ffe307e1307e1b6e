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
import { exitCodeFor } from '../../src/base/errors.js';
import type { CliResult } from './cli.js';

type Command = (argv: string[]) => Promise<number>;

async function commandOf(name: string): Promise<Command> {
  switch (name) {
    case 'export':
      return (await import('../../src/cli/export.js')).exportCommand;
    case 'changes':
      return (await import('../../src/cli/changes.js')).changesCommand;
    case 'history':
      return (await import('../../src/cli/changes.js')).historyCommand;
    default:
      throw new Error(`read-back runs export, changes and history, not ${name}`);
  }
}

type Write = typeof process.stdout.write;

/** Run `argv` with the process's output gathered rather than written. */
async function captured(argv: readonly string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const gather =
    (into: string[]): Write =>
    ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      const done = rest.find((r) => typeof r === 'function') as ((e?: Error | null) => void) | undefined;
      if (done) queueMicrotask(() => done());
      return true;
    }) as Write;
  const [stdoutWrite, stderrWrite] = [process.stdout.write, process.stderr.write];
  process.stdout.write = gather(out);
  process.stderr.write = gather(err);
  let code: number;
  try {
    const [name, ...rest] = argv;
    code = await (await commandOf(name ?? '')).call(null, rest);
  } catch (e) {
    // What `sluice` prints for an error, and its exit code.
    err.push(`sluice: ${(e as Error).message}\n`);
    code = exitCodeFor(e);
  } finally {
    process.stdout.write = stdoutWrite;
    process.stderr.write = stderrWrite;
  }
  return { code, signal: null, stdout: out.join(''), stderr: err.join('') };
}

const commands = JSON.parse(process.argv[2] ?? '[]') as string[][];
const results: CliResult[] = [];
for (const argv of commands) results.push(await captured(argv));
process.stdout.write(JSON.stringify(results));
