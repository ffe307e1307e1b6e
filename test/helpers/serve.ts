/**
 * Driving `sluice serve` in tests: the built CLI as a server on a free port, with an admin
 * token of its own, and fetch. Every wait is a bounded poll, never a fixed sleep.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { type RunningCli, runCli, startCli, type Sandbox } from './cli.js';
import { type ApiChecker, apiChecker } from './openapi.js';

export interface Server {
  url: string;
  cli: RunningCli;
  /** an admin's token, sent by call() */
  token: string;
  /** the OpenAPI document the server serves, which call() checks each answer against */
  api: ApiChecker;
}

/** A new token on `db`'s server, as `sluice token add` prints it. */
export async function addToken(db: string, name: string, role: string, ...args: string[]): Promise<string> {
  const r = await runCli(['token', 'add', '--db', db, '--name', name, '--role', role, ...args]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

/** Serves `db` with an admin token of its own (the same one on a second start). */
export async function serve(db: string, ...args: string[]): Promise<Server> {
  return serveWithEnv(db, {}, ...args);
}

/** serve(), with environment variables for the server (SLUICE_TEST_PAUSE). */
export async function serveWithEnv(db: string, env: Record<string, string>, ...args: string[]): Promise<Server> {
  const known = existsSync(`${db}.admin-token`) ? readFileSync(`${db}.admin-token`, 'utf8') : null;
  const token = known ?? (await addToken(db, 'test-admin', 'admin'));
  if (known === null) writeFileSync(`${db}.admin-token`, token);
  const cli = startCli(['serve', '--db', db, '--port', '0', ...args], { env });
  await cli.stderrMatches(/listening on http:\/\/\S+ /);
  const url = /listening on (http:\/\/\S+) /.exec(cli.stderrText())?.[1] as string;
  const doc = await fetch(`${url}/v1/openapi.json`);
  assert.equal(doc.status, 200);
  return { url, cli, token, api: apiChecker((await doc.json()) as Record<string, unknown>) };
}

/**
 * A request to the server with its admin token, or the `Authorization` header given in
 * `init`; its answer is checked against the server's OpenAPI document before it is returned.
 */
export async function call(s: Server, path: string, init: RequestInit = {}, bearer: string | null = s.token): Promise<Response> {
  const headers = new Headers(init.headers);
  if (bearer !== null && !headers.has('authorization')) headers.set('authorization', `Bearer ${bearer}`);
  const r = await fetch(`${s.url}${path}`, { ...init, headers });
  s.api.check(init.method ?? 'GET', path, r.status, r.headers.get('content-type'), await r.clone().text());
  return r;
}

export async function stop(s: Server): Promise<void> {
  if (s.cli.child.exitCode === null && s.cli.child.signalCode === null) s.cli.child.kill('SIGTERM');
  await s.cli.done;
}

export async function json(r: Response): Promise<Record<string, unknown>> {
  const text = await r.text();
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`not JSON (${r.status}): ${text}`);
  }
}

export async function postCsv(s: Server, query: string, body: string): Promise<Response> {
  return call(s, `/v1/import?${query}`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body });
}

export async function state(s: Server, token: string): Promise<Record<string, unknown>> {
  return json(await call(s, `/v1/import/${token}`));
}

/** Poll a job until `done(state)` holds: a bounded wait, never a fixed sleep. */
export async function until(s: Server, token: string, done: (st: Record<string, unknown>) => boolean, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const st = await state(s, token);
    if (done(st)) return st;
    if (Date.now() > end) throw new Error(`job ${token} never reached the state awaited; last: ${JSON.stringify(st)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const finished = (st: Record<string, unknown>): boolean => st.state === 'done' || st.state === 'error';

export async function tokenOf(r: Response): Promise<string> {
  const body = await json(r);
  assert.equal(r.status, 202, JSON.stringify(body));
  assert.match(String(body.token), /^[0-9a-f]{32}$/);
  return body.token as string;
}

/** A connection holding the database's write lock until `release()`. */
export function holdWriteLock(db: string): { release: () => void } {
  const d = new Database(db);
  d.exec('BEGIN IMMEDIATE');
  return {
    release: () => {
      if (d.inTransaction) d.exec('ROLLBACK');
      d.close();
    },
  };
}

export function uploads(db: string): string[] {
  const dir = `${db}.spool`;
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.upload')) : [];
}

export async function freshDb(box: Sandbox): Promise<void> {
  assert.equal((await runCli(['init', '--db', box.db])).code, 0);
}
