/** Test helpers: a fresh temporary directory per test and the built CLI as a child process. */
import { type ChildProcess, type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import Database from 'better-sqlite3';
import { changeEntries } from '../../src/export/history-read.js';
import { readModel } from '../../src/model/store.js';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface Sandbox {
  dir: string;
  db: string;
  file(name: string, content: string | Buffer): string;
  cleanup(): void;
}

export function sandbox(): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-test-'));
  return {
    dir,
    db: join(dir, 'test.db'),
    file(name, content) {
      const p = join(dir, name);
      writeFileSync(p, content);
      return p;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Sandboxes made by one suite, removed together when it ends: call in a describe block;
 * `box()` gives a new one (its database not created yet).
 */
export function suiteSandboxes(): () => Sandbox {
  const boxes: Sandbox[] = [];
  after(() => {
    for (const sb of boxes) sb.cleanup();
  });
  return () => {
    const sb = sandbox();
    boxes.push(sb);
    return sb;
  };
}

/**
 * The longest a command a test runs to its end (runCli, readBack) may take. A process that has
 * not exited by then is killed, and its test fails (exit code null, signal SIGKILL) instead of
 * holding its test file, and the whole suite, open. Processes a test drives (startCli) are
 * ended by the test.
 */
export const CLI_LIMIT_MS = 300_000;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run `node script …args` to its end (at most CLI_LIMIT_MS), its input `input`, its output gathered. */
function runScript(script: string, args: readonly string[], opts: { input?: string | Buffer; env?: Record<string, string>; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'], timeout: CLI_LIMIT_MS, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

export function runCli(args: string[], opts: { input?: string | Buffer; env?: Record<string, string>; cwd?: string } = {}): Promise<CliResult> {
  return runScript(CLI, args, opts);
}

const READ_BACK = fileURLToPath(new URL('./read-back.js', import.meta.url));

/**
 * Several `export`, `changes` and `history` commands run in one process (read-back.ts), each
 * with the result runCli would give: the same standard output, standard error and exit code.
 */
export async function readBack(commands: readonly string[][]): Promise<CliResult[]> {
  if (commands.length === 0) return [];
  const r = await runScript(READ_BACK, [JSON.stringify(commands)]);
  if (r.code !== 0) throw new Error(`read-back exited ${String(r.code ?? r.signal)}: ${r.stderr}`);
  return JSON.parse(r.stdout) as CliResult[];
}

const RUNNER = fileURLToPath(new URL('./cli-runner.js', import.meta.url));

/** Command runners (cli-runner.ts) waiting for their next command. */
const idleRunners: ChildProcess[] = [];

/** Send one command to a runner; its result, or a failure when the runner ends or takes longer than CLI_LIMIT_MS. */
function request(runner: ChildProcess, args: readonly string[]): Promise<{ result: CliResult; reusable: boolean }> {
  return new Promise((resolve) => {
    let output = '';
    const onData = (d: Buffer): void => {
      output += d.toString('utf8');
    };
    const settle = (result: CliResult, reusable: boolean): void => {
      clearTimeout(timer);
      runner.off('message', onMessage);
      runner.off('exit', onExit);
      runner.stdout?.off('data', onData);
      runner.stderr?.off('data', onData);
      resolve({ result, reusable });
    };
    const onMessage = (r: CliResult): void => settle(r, r.code !== null);
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      settle({ code: null, signal: signal ?? 'SIGKILL', stdout: '', stderr: `the command runner ended (${String(code ?? signal)}) during ${args.join(' ')}:\n${output}` }, false);
    const timer = setTimeout(() => {
      runner.kill('SIGKILL');
      settle({ code: null, signal: 'SIGKILL', stdout: '', stderr: `${args.join(' ')} took more than ${CLI_LIMIT_MS} ms:\n${output}` }, false);
    }, CLI_LIMIT_MS);
    runner.on('message', onMessage);
    runner.on('exit', onExit);
    runner.stdout?.on('data', onData);
    runner.stderr?.on('data', onData);
    runner.send([...args]);
  });
}

/**
 * A command (`init`, `import`, `export`, `changes`, `history`, `undo`, `source`, `sync`,
 * `token`) run through the same command functions as the CLI, in a command runner process
 * that runs one command after another (cli-runner.ts), with the result runCli would give:
 * the same exit code, standard output and standard error. A runner is reused once its
 * command is done, so a test that runs dozens of commands starts one process, not dozens;
 * one that left anything open (a connection, a timer, a thread) fails its command. For
 * commands that need neither an environment nor standard input of their own.
 * SLUICE_TEST_SPAWN=1 runs each command as its own `sluice` process instead.
 */
export async function runCommand(args: string[]): Promise<CliResult> {
  if (process.env.SLUICE_TEST_SPAWN) return runCli(args);
  let runner = idleRunners.pop();
  // One that ended while it waited (it should not) is replaced; its next command would have failed.
  while (runner !== undefined && (runner.exitCode !== null || runner.signalCode !== null)) runner = idleRunners.pop();
  runner ??= spawn(process.execPath, [RUNNER], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  // A runner holds the test file open only while it runs a command.
  hold(runner, true);
  const { result, reusable } = await request(runner, args);
  if (reusable) {
    hold(runner, false);
    idleRunners.push(runner);
  } else if (runner.exitCode === null && runner.signalCode === null) {
    runner.kill('SIGKILL');
  }
  return result;
}

function hold(runner: ChildProcess, on: boolean): void {
  for (const h of [runner, runner.channel, runner.stdout, runner.stderr] as ({ ref(): unknown; unref(): unknown } | null | undefined)[]) {
    if (on) h?.ref();
    else h?.unref();
  }
}

/** A CLI process the test drives: it writes the child's stdin and waits for what its stderr says. */
export interface RunningCli {
  child: ChildProcessWithoutNullStreams;
  /** Resolves once stderr (all of it so far) matches `re`; rejects if the process ends first. */
  stderrMatches(re: RegExp): Promise<void>;
  /** Resolves when the process has ended. */
  done: Promise<CliResult>;
  /** What the process wrote to stderr so far. */
  stderrText(): string;
}

/**
 * Start the built CLI and leave it running. A test that needs an import to be busy while
 * something else happens feeds it with `--file -` and holds its stdin open: the import keeps
 * its write lock (and its open transaction) until the test ends the input, however fast it is.
 */
export function startCli(args: string[], opts: { env?: Record<string, string> } = {}): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let closed = false;
  const waiters: { re: RegExp; resolve: () => void; reject: (e: Error) => void }[] = [];
  const check = (): void => {
    for (let k = waiters.length - 1; k >= 0; k--) {
      const w = waiters[k] as (typeof waiters)[number];
      if (w.re.test(stderr)) {
        waiters.splice(k, 1);
        w.resolve();
      }
    }
  };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    check();
  });
  child.stdin.on('error', () => {});
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      closed = true;
      check();
      for (const w of waiters.splice(0)) w.reject(new Error(`the process ended (${String(code ?? signal)}) before its stderr matched ${String(w.re)}:\n${stderr}`));
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    done,
    stderrText: () => stderr,
    stderrMatches: (re) =>
      new Promise<void>((resolve, reject) => {
        if (re.test(stderr)) resolve();
        else if (closed) reject(new Error(`the process has ended; stderr did not match ${String(re)}:\n${stderr}`));
        else waiters.push({ re, resolve, reject });
      }),
  };
}

/** Query a database directly (read-only). */
export function query<T = Record<string, unknown>>(db: string, sql: string, ...params: unknown[]): T[] {
  const d = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return d.prepare(sql).all(...params) as T[];
  } finally {
    d.close();
  }
}

/** SQL: the number of history entries (one per object) a row of `_sluice_history` holds; a range row counts each of its objects. */
export const ENTRIES_OF_ROW = 'CASE WHEN last_object_id IS NULL THEN 1 ELSE last_object_id - object_id + 1 END';

/** SQL for the number of history entries of the rows matching `where`. */
export function historyEntriesSql(where = 'true'): string {
  return `SELECT coalesce(sum(${ENTRIES_OF_ROW}), 0) AS n FROM _sluice_history WHERE ${where}`;
}

/** The history entries of the changes from `firstChange` to `lastChange`, one per object, in order (ranges expanded as `sluice history` does). */
export function historyEntries(db: string, firstChange = 0, lastChange = Number.MAX_SAFE_INTEGER): { change_id: number; class: string; object_id: number; op: string; changes: string }[] {
  const d = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const model = readModel(d, db);
    const out: { change_id: number; class: string; object_id: number; op: string; changes: string }[] = [];
    const ids = d.prepare('SELECT id FROM _sluice_change WHERE id BETWEEN ? AND ? ORDER BY id').pluck().all(firstChange, lastChange) as number[];
    for (const id of ids) for (const e of changeEntries(d, model, id)) out.push({ change_id: id, ...e });
    return out;
  } finally {
    d.close();
  }
}

/** Parse a `#Key: value` summary into a map. */
export function summaryOf(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^#([^:]+): ?(.*)$/.exec(line);
    if (m) out[m[1] as string] = m[2] as string;
  }
  return out;
}
