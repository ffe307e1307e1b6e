/**
 * Sluice commands run one after another in one process, through the same command functions
 * as `sluice` (src/cli/main.ts), each one's exit code, standard output and standard error
 * captured as runCli gives them: a comparison that runs dozens of commands starts a process
 * or two instead of dozens. Driven over IPC by runCommand() (cli.ts), one command at a time.
 *
 * A command that leaves anything open that would keep a `sluice` process from exiting (a
 * connection, a timer, a thread) ends in an error saying so, as a process that never exits
 * would fail its test: what runs here must end the way the CLI does.
 */
import { captured, commandOf } from './captured.js';
import type { CliResult } from './cli.js';

/** What keeps the event loop alive, by kind and count. */
function openResources(): Map<string, number> {
  const n = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) n.set(r, (n.get(r) ?? 0) + 1);
  return n;
}

/** What is open now and was not before any command ran; empty once the command left nothing behind. */
function leftOpen(baseline: Map<string, number>): string[] {
  const extra: string[] = [];
  for (const [kind, count] of openResources()) if (count > (baseline.get(kind) ?? 0)) extra.push(`${count - (baseline.get(kind) ?? 0)} ${kind}`);
  return extra;
}

/**
 * An exception or rejection nothing caught, which would end a `sluice` process with a stack
 * trace: it fails the command running, or the next one when it came between two.
 */
const uncaught: string[] = [];
process.on('uncaughtException', (e) => uncaught.push(String(e?.stack ?? e)));
process.on('unhandledRejection', (e) => uncaught.push(String((e as Error)?.stack ?? e)));

/** Run `argv` with the process's output gathered rather than written; errors reported as main.ts reports them. */
async function runOne(argv: readonly string[], baseline: Map<string, number>): Promise<CliResult> {
  const [name, ...rest] = argv;
  const result = await captured(async () => (await commandOf(name)).call(null, rest));
  const err = [result.stderr];
  // Sockets, threads and files close a moment after the command's last await.
  let open = leftOpen(baseline);
  for (let k = 0; k < 100 && open.length > 0; k++) {
    await new Promise((r) => setTimeout(r, 20));
    open = leftOpen(baseline);
  }
  if (open.length > 0) err.push(`[command runner] the command left ${open.join(', ')} open: a sluice process would not have exited\n`);
  // A rejection the command left behind surfaces within a turn or two of the event loop.
  for (let k = 0; k < 2; k++) await new Promise((r) => setImmediate(r));
  const crashed = uncaught.splice(0);
  for (const c of crashed) err.push(`[command runner] uncaught, a sluice process would have crashed: ${c}\n`);
  return { code: open.length > 0 || crashed.length > 0 ? null : result.code, signal: null, stdout: result.stdout, stderr: err.join('') };
}

// What is open before any command: the IPC channel and the standard streams (made when first used).
let baseline: Map<string, number> | undefined;
process.on('message', (argv: string[]) => {
  if (baseline === undefined) {
    void [process.stdout, process.stderr];
    baseline = openResources();
  }
  void runOne(argv, baseline).then(
    (r) => process.send?.(r),
    (e: unknown) => process.send?.({ code: null, signal: null, stdout: '', stderr: `[command runner] ${String((e as Error)?.stack ?? e)}\n` }),
  );
});
// The test file that started it has ended.
process.on('disconnect', () => process.exit(0));
