/**
 * `sluice serve` driven from outside, as a client does: the built CLI started on a database,
 * its address read from its log line, a file uploaded as a raw `text/csv` body and the job
 * polled until it ends.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createReadStream, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { setTimeout as delay } from 'node:timers/promises';
import type { Contestant, ContestantRun, RunInput } from './contestant.js';
import { removeDb } from './db.js';
import { type Measured, readPeakRss } from './measure.js';
import { SLUICE_CLI } from './paths.js';

/** The options every benchmarked upload gives, as `sluice import --class Person --keys email` does. */
export const SERVE_QUERY = 'class=Person&keys=email';

const LISTENING = /sluice serve: listening on (http:\/\/\S+)/;
const STDERR_TAIL = 16 * 1024;

export interface Server {
  /** http://host:port */
  url: string;
  pid: number;
  command: string;
  /** the end of the server's log */
  stderr(): string;
  /** VmHWM of the server process, bytes */
  peakRss(): number | null;
  /** SIGTERM, then wait for the exit (SIGKILL after `graceMs`); the exit code, or the signal's name */
  stop(graceMs?: number): Promise<number | string>;
}

export interface StartOptions {
  /** node options before the script, e.g. ['--cpu-prof', '--cpu-prof-dir', DIR] */
  nodeArgs?: string[];
  /** how long the server may take to listen */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** The bearer token each started server (by its URL) was given: requests send it as a client would. */
const tokens = new Map<string, string>();

/** The Authorization header for requests to the server at `base`. */
export function authHeaders(base: string): Record<string, string> {
  const token = tokens.get(new URL(base).origin);
  return token ? { authorization: `Bearer ${token}` } : {};
}

/**
 * Start `sluice serve --db D --port 0` and wait for its "listening on" line; an admin token
 * is made for it first (`sluice token add`), which the helpers here send.
 */
export async function startServer(db: string, o: StartOptions = {}): Promise<Server> {
  const token = execFileSync(process.execPath, [SLUICE_CLI, 'token', 'add', '--db', db, '--name', `bench-${process.pid}-${tokens.size}`, '--role', 'admin'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const srv = await listen(db, o);
  tokens.set(new URL(srv.url).origin, token);
  return srv;
}

function listen(db: string, o: StartOptions): Promise<Server> {
  const args = [...(o.nodeArgs ?? []), SLUICE_CLI, 'serve', '--db', db, '--host', '127.0.0.1', '--port', '0'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: o.env ?? process.env });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    if (err.length > 2 * STDERR_TAIL) err = err.slice(-STDERR_TAIL);
  });
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  return new Promise<Server>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => fail(`did not say where it listens within ${(o.timeoutMs ?? 30_000) / 1000} s`), o.timeoutMs ?? 30_000);
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`sluice serve on ${db} ${why}: ${err.trim().slice(-2000)}`));
    };
    const onData = (): void => {
      const m = LISTENING.exec(err);
      if (!m || settled) return;
      settled = true;
      clearTimeout(timer);
      child.stderr.off('data', onData);
      resolve(server(child, m[1] as string, [process.execPath, ...args].join(' '), () => err, exited));
    };
    child.stderr.on('data', onData);
    child.on('error', (e) => fail(`could not start (${e.message})`));
    void exited.then((how) => fail(`exited (${how}) before listening`));
  });
}

function server(child: ChildProcess, url: string, command: string, stderr: () => string, exited: Promise<number | string>): Server {
  const pid = child.pid as number;
  return {
    url,
    pid,
    command,
    stderr: () => stderr().slice(-STDERR_TAIL),
    peakRss: () => readPeakRss(pid),
    async stop(graceMs = 60_000): Promise<number | string> {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(killer);
      }
    },
  };
}

/** Upload `file` as a raw text/csv body to POST /v1/import?`query`; the job's token. */
export async function uploadCsv(base: string, file: string, query: string = SERVE_QUERY): Promise<string> {
  const size = statSync(file).size;
  let sendError: Error | null = null;
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(new URL(`/v1/import?${query}`, base), { method: 'POST', headers: { 'content-type': 'text/csv', 'content-length': size, ...authHeaders(base) } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    // A refusal can come before the body is sent; then the answer says why, not the broken pipe.
    pipeline(createReadStream(file), req).catch((e: Error) => (sendError = e));
  });
  const { status, body } = await answer.catch((e: Error) => {
    throw new Error(`upload of ${file} failed: ${e.message}${sendError ? ` (sending: ${(sendError as Error).message})` : ''}`);
  });
  if (status !== 202) throw new Error(`upload of ${file}: HTTP ${status}: ${body.slice(0, 500)}`);
  const token = (JSON.parse(body) as { token?: unknown }).token;
  if (typeof token !== 'string') throw new Error(`upload of ${file}: no token in ${body.slice(0, 200)}`);
  return token;
}

export interface JobStatus {
  state: 'queued' | 'processing' | 'done' | 'error';
  line?: number;
  message?: string;
  results?: Record<string, number>;
}

export async function jobStatus(base: string, token: string): Promise<JobStatus> {
  const res = await fetch(new URL(`/v1/import/${token}`, base), { headers: authHeaders(base) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET /v1/import/${token}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as JobStatus;
}

/** Poll every `pollMs` until the job has ended; its last status. */
export async function waitForEnd(base: string, token: string, pollMs = 50, timeoutMs = 3_600_000, onStatus?: (s: JobStatus) => void): Promise<JobStatus> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const s = await jobStatus(base, token);
    onStatus?.(s);
    if (s.state === 'done' || s.state === 'error') return s;
    await delay(pollMs);
  }
  throw new Error(`job ${token} has not ended within ${timeoutMs / 1000} s`);
}

/** Data rows a finished job accounted for. */
export function rowsOf(s: JobStatus): number | null {
  const r = s.results;
  if (!r) return null;
  return (r.created ?? 0) + (r.updated ?? 0) + (r.unchanged ?? 0) + (r.skipped ?? 0) + (r.errors ?? 0);
}

/** The database and what the server keeps beside it (uploads, logs, job table). */
export function removeServedDb(db: string): void {
  removeDb(db);
  rmSync(`${db}.spool`, { recursive: true, force: true });
}

/**
 * When a job's `line` last moved: the import has applied its last row then, and what follows
 * until `done` is the server's own work on the finished run (its log).
 */
export class LastLine {
  line = -1;
  at: bigint | null = null;

  see(s: JobStatus): void {
    if (s.state === 'processing' && s.line !== undefined && s.line > this.line) {
      this.line = s.line;
      this.at = process.hrtime.bigint();
    }
  }
}

const secondsBetween = (a: bigint, b: bigint): number => Math.round(Number(b - a) / 1e6) / 1000;

export interface ServeContestant extends Contestant {
  /** each round's report, in order (the scenario's result keeps only the last) */
  readonly reports: Record<string, unknown>[];
}

/**
 * Sluice behind HTTP as a contestant: the server is started on the contestant's database
 * beforehand (untimed); the wall time runs from the first byte of the upload to the first
 * poll (every 50 ms) that finds the job done. Peak RSS is the server process's. The report
 * splits the wall time: the upload (until the 202), the import (until the last line was
 * first seen) and what came after it.
 */
export function sluiceServeContestant(): ServeContestant {
  const reports: Record<string, unknown>[] = [];
  return { id: 'sluice_serve', label: 'sluice serve', usesDb: true, reports, run: (input) => runServe(input, reports) };
}

async function runServe(input: RunInput, reports: Record<string, unknown>[]): Promise<ContestantRun> {
  const srv = await startServer(input.db);
  let status: JobStatus | null = null;
  let error: string | null = null;
  let wallS = 0;
  let uploadS = 0;
  let appliedS: number | null = null;
  try {
    const started = process.hrtime.bigint();
    const token = await uploadCsv(srv.url, input.file);
    uploadS = secondsBetween(started, process.hrtime.bigint());
    const last = new LastLine();
    status = await waitForEnd(srv.url, token, 50, undefined, (s) => last.see(s));
    const ended = process.hrtime.bigint();
    wallS = Number(ended - started) / 1e9;
    if (last.at !== null) appliedS = secondsBetween(started, last.at);
    if (status.state !== 'done') error = `the job ended in ${status.state}: ${status.message ?? JSON.stringify(status)}`;
  } catch (err) {
    error = (err as Error).message;
  }
  const peak = srv.peakRss();
  const exit = await srv.stop();
  if (error === null && exit !== 0) error = `the server's stop: exit ${exit}`;
  rmSync(`${input.db}.spool`, { recursive: true, force: true });
  const measured: Measured = {
    command: `${srv.command}; POST ${srv.url}/v1/import?${SERVE_QUERY} (text/csv body), GET /v1/import/{token} every 50 ms`,
    exitCode: typeof exit === 'number' ? exit : null,
    signal: typeof exit === 'string' ? (exit as NodeJS.Signals) : null,
    wallS,
    peakRssBytes: peak,
    stdout: JSON.stringify(status),
    stdoutBytes: 0,
    stderr: srv.stderr(),
  };
  const phases = { upload_s: uploadS, last_line_s: appliedS, after_last_line_s: appliedS === null ? null : Math.round((wallS - appliedS) * 1000) / 1000 };
  const report = status ? { ...(status.results ?? {}), state: status.state, ...phases } : null;
  reports.push({ wall_s: Math.round(wallS * 1000) / 1000, ...phases, error });
  return { measured, rows: status ? rowsOf(status) : null, report, error };
}
