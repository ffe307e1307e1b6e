/**
 * A real PostgreSQL server for a test file: started by the file itself in a temporary
 * directory (bench/lib/postgres-server.ts, which the benchmarks use too), stopped and removed
 * when the file ends (or its process exits), with a fresh database for each test.
 *
 * The tests' server runs without fsync, synchronous commits or full-page writes: a crash of
 * the machine loses nothing a test needs.
 *
 * Usage, at the top of a test file:
 *   const pg = usePostgres();
 *   test('…', async () => { const url = await pg().freshDatabase(); … });
 */
import { after, before } from 'node:test';
import pg from 'pg';
import { type PgServer, startPostgres as startServer } from '../../bench/lib/postgres-server.js';

export { type PgServer, findPostgresBin } from '../../bench/lib/postgres-server.js';

export const TEST_SETTINGS: Readonly<Record<string, string>> = {
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  shared_buffers: '32MB',
  max_connections: '40',
};

/** Start a test server; it is stopped and removed on stop(), or when the process exits. */
export function startPostgres(): Promise<PgServer> {
  return startServer({ settings: TEST_SETTINGS });
}

/** One server for the test file: started before its tests, stopped after them. Returns its getter. */
export function usePostgres(): () => PgServer {
  let server: PgServer | undefined;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });
  return () => {
    if (server === undefined) throw new Error('the PostgreSQL server is not started (usePostgres() must be called at the top of the test file)');
    return server;
  };
}

/** Wait until `ok()` holds, polling; an error naming `what` after `ms`. */
export async function waitFor(what: string, ok: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`gave up after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `fn` on a connection of its own to `url`, ended after it (a connection the server drops is not an error). */
export async function onPg<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
