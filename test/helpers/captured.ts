/**
 * A command run in this process with what it writes to standard output and standard error
 * gathered rather than written, and an error it throws reported as `sluice` reports it (one
 * `sluice: …` line and its exit code): how the command runner (cli-runner.ts) and
 * read-back.ts run the CLI's command functions, which commandOf finds by name.
 */
import { exitCodeFor } from '../../src/base/errors.js';
import type { CliResult } from './cli.js';

type Write = typeof process.stdout.write;

type Command = (argv: string[]) => number | Promise<number>;

/** main.ts's commands, but serve (it runs until stopped). */
export async function commandOf(name: string | undefined): Promise<Command> {
  switch (name) {
    case 'init':
      return (await import('../../src/cli/init.js')).initCommand;
    case 'import':
      return (await import('../../src/cli/import.js')).importCommand;
    case 'export':
      return (await import('../../src/cli/export.js')).exportCommand;
    case 'schema':
      return (await import('../../src/cli/schema.js')).schemaCommand;
    case 'changes':
      return (await import('../../src/cli/changes.js')).changesCommand;
    case 'history':
      return (await import('../../src/cli/changes.js')).historyCommand;
    case 'undo':
      return (await import('../../src/cli/undo.js')).undoCommand;
    case 'source':
      return (await import('../../src/cli/source.js')).sourceCommand;
    case 'sync':
      return (await import('../../src/cli/sync.js')).syncCommand;
    case 'token':
      return (await import('../../src/cli/token.js')).tokenCommand;
    default:
      throw new Error(`the command functions run here are init, import, export, schema, changes, history, undo, source, sync and token, not ${String(name)}`);
  }
}

export async function captured(run: () => number | Promise<number>): Promise<CliResult> {
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
    code = await run();
  } catch (e) {
    err.push(`sluice: ${(e as Error)?.message ?? String(e)}\n`);
    code = exitCodeFor(e);
  } finally {
    process.stdout.write = stdoutWrite;
    process.stderr.write = stderrWrite;
  }
  return { code, signal: null, stdout: out.join(''), stderr: err.join('') };
}
