/**
 * A real PostgreSQL server started by the process that needs it, in a temporary directory,
 * stopped and removed on stop() or when that process exits. The tests (test/helpers/postgres.ts,
 * a server without fsync) and the PostgreSQL benchmarks (scenarios/postgres.ts, a server with
 * a default server's durability) start theirs with it; only the settings differ.
 *
 * The server binaries (initdb, pg_ctl, postgres) are looked for on PATH, then in
 * SLUICE_PG_BIN, then in Debian's /usr/lib/postgresql/<version>/bin. PostgreSQL refuses to
 * run as root, and tests and benchmarks run as root in CI: there the server runs as `nobody`
 * (uid and gid 65534) in a directory given to that user; otherwise as the current user. It
 * listens on 127.0.0.1 on a free port and on a unix socket in its directory, and trusts local
 * connections (the superuser is `postgres`).
 */
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { accessSync, chownSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';

const BINARIES = ['initdb', 'pg_ctl', 'postgres'] as const;
const NOBODY = 65534;
export const SUPERUSER = 'postgres';
/** Tries at starting when the free port found was taken by another process before the server bound it. */
const PORT_TRIES = 5;

export interface PgServer {
  host: string;
  port: number;
  /** the directory of the server's unix socket */
  socketDir: string;
  /** the server's data directory's parent, removed when the server stops */
  dir: string;
  /** A URL of `database` on this server, as the superuser, over TCP. */
  url(database: string, params?: string): string;
  /** A new empty database, for one test: its URL. */
  freshDatabase(): Promise<string>;
  /** A connection to `database` (default: postgres) that the caller ends. */
  connect(database?: string): Promise<pg.Client>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Server settings, each passed as `-c name=value` (listen_addresses is always 127.0.0.1). */
  settings?: Readonly<Record<string, string>>;
  /** Where the server's temporary directory is made (default: the OS's temporary directory). */
  parentDir?: string;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The directory holding all three server binaries, or an error saying what to install. */
export function findPostgresBin(): string {
  const candidates = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  if (process.env.SLUICE_PG_BIN) candidates.push(process.env.SLUICE_PG_BIN);
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(join(debian, v, 'bin'));
  }
  const dir = candidates.find((d) => BINARIES.every((b) => executable(join(d, b))));
  if (dir === undefined) {
    throw new Error(
      'a PostgreSQL server needs the PostgreSQL 15 server binaries (initdb, pg_ctl, postgres), found neither on PATH, nor in SLUICE_PG_BIN, ' +
        'nor in /usr/lib/postgresql/*/bin: install them (Debian: apt-get install postgresql-15) or set SLUICE_PG_BIN to their directory',
    );
  }
  return dir;
}

const asRoot = (): boolean => process.getuid?.() === 0;

/** Run the server's programs as `nobody` when this process is root (PostgreSQL refuses root). */
function runAs(): Pick<SpawnOptions, 'uid' | 'gid'> {
  return asRoot() ? { uid: NOBODY, gid: NOBODY } : {};
}

/** This environment without PG* variables, which would point PostgreSQL's programs (psql too) elsewhere. */
export function withoutPgEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) env[k] = v;
  return env;
}

function serverEnv(): NodeJS.ProcessEnv {
  return { ...withoutPgEnv(), LC_ALL: 'C.UTF-8' };
}

function run(bin: string, args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd, env: serverEnv(), stdio: ['ignore', 'pipe', 'pipe'], ...runAs() });
    let output = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function logOf(dir: string): string {
  try {
    return readFileSync(join(dir, 'server.log'), 'utf8');
  } catch {
    return '';
  }
}

/** pg_ctl's -o: the port, the socket directory and one `-c name=value` per setting. */
export function serverOptions(port: number, socketDir: string, settings: Readonly<Record<string, string>>): string {
  const all: Record<string, string> = { ...settings, listen_addresses: '127.0.0.1' };
  // pg_ctl hands -o to a shell: only what needs no quoting passes. A unix socket's path is at most 107 bytes.
  for (const [name, value] of Object.entries(all)) {
    if (!/^[a-z_.]+$/.test(name) || !/^[\w.:/-]+$/.test(value)) throw new Error(`the server setting ${name}=${JSON.stringify(value)} cannot be passed through pg_ctl -o`);
  }
  if (!/^[\w./+-]+$/.test(socketDir)) throw new Error(`the server's directory ${JSON.stringify(socketDir)} holds characters pg_ctl -o cannot pass; choose another parent directory`);
  if (Buffer.byteLength(join(socketDir, `.s.PGSQL.${port}`)) > 107) throw new Error(`the server's directory ${socketDir} is too long for a unix socket's path; choose a shorter parent directory`);
  return [`-p ${port}`, `-k ${socketDir}`, ...Object.entries(all).map(([n, v]) => `-c ${n}=${v}`)].join(' ');
}

let exitOnSignals = false;

/**
 * A process ended by a signal (the test runner's timeout sends SIGTERM, Ctrl-C sends SIGINT)
 * runs no 'exit' listeners, and would leave its servers running: it exits instead, which runs
 * them. (SIGKILL cannot be caught: a server of a process killed so stays until stopped by hand.)
 */
function exitOnSignal(): void {
  if (exitOnSignals) return;
  exitOnSignals = true;
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) process.once(signal, () => process.exit(code));
}

/** Start a server in a new temporary directory; it is stopped and removed on stop(), or when the process exits. */
export async function startPostgres(opts: StartOptions = {}): Promise<PgServer> {
  const bin = findPostgresBin();
  exitOnSignal();
  const parent = opts.parentDir ?? tmpdir();
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, 'sluice-pg-'));
  if (asRoot()) chownSync(dir, NOBODY, NOBODY);
  const data = join(dir, 'data');
  const pgCtl = join(bin, 'pg_ctl');
  // Whatever ends this process, the server does not outlive it.
  const onExit = (): void => {
    spawnSync(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop'], { cwd: dir, env: serverEnv(), stdio: 'ignore', ...runAs() });
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', onExit);
  try {
    const init = await run(join(bin, 'initdb'), ['-D', data, '-U', SUPERUSER, '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync', '--no-instructions'], dir);
    if (init.code !== 0) throw new Error(`initdb failed (exit ${init.code}):\n${init.output}`);
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      // -w: pg_ctl returns once the server accepts connections (it reads the server's own status), or fails.
      const start = await run(pgCtl, ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '120', '-o', serverOptions(port, dir, opts.settings ?? {}), 'start'], dir);
      if (start.code === 0) break;
      const log = logOf(dir);
      if (attempt < PORT_TRIES && /could not bind|address already in use/i.test(log)) continue;
      throw new Error(`pg_ctl start failed (exit ${start.code}):\n${start.output}\n${log}`);
    }
    let count = 0;
    const server: PgServer = {
      host: '127.0.0.1',
      port,
      socketDir: dir,
      dir,
      url: (database, params) => `postgres://${SUPERUSER}@127.0.0.1:${port}/${encodeURIComponent(database)}${params ? `?${params}` : ''}`,
      async connect(database = 'postgres') {
        const client = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, database });
        client.on('error', () => undefined);
        await client.connect();
        return client;
      },
      async freshDatabase() {
        const name = `t${process.pid}_${++count}`;
        const admin = await server.connect();
        try {
          // Like a typical server's databases: a locale whose order and case rules are not
          // SQLite's (en-US sorts a < B; lower() folds É), so the schema must bring its own.
          await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`);
        } catch (err) {
          // A server built without ICU (0A000): C.UTF-8, whose lower() folds É as well.
          if ((err as { code?: string }).code !== '0A000') throw err;
          await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 LOCALE 'C.UTF-8'`);
        } finally {
          await admin.end();
        }
        return server.url(name);
      },
      async stop() {
        const stop = await run(pgCtl, ['-D', data, '-m', 'fast', '-w', 'stop'], dir);
        process.off('exit', onExit);
        rmSync(dir, { recursive: true, force: true });
        if (stop.code !== 0) throw new Error(`pg_ctl stop failed (exit ${stop.code}):\n${stop.output}`);
      },
    };
    return server;
  } catch (err) {
    onExit();
    process.off('exit', onExit);
    throw err;
  }
}
