/**
 * A command run in this process with what it writes to standard output and standard error
 * gathered rather than written, and an error it throws reported as `sluice` reports it (one
 * `sluice: …` line and its exit code): how the command runner (cli-runner.ts) and
 * read-back.ts run the CLI's command functions.
 */
import { exitCodeFor } from '../../src/base/errors.js';
import type { CliResult } from './cli.js';

type Write = typeof process.stdout.write;

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
