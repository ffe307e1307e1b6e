/**
 * The PostgreSQL scenarios' databases: each contestant's round gets a database of its own on
 * the bench's server, a copy of a template database made by CREATE DATABASE … TEMPLATE
 * (untimed), read back and dropped once measured. A database is named by its URL, which is
 * the `--db` a contestant is given.
 */
import { q } from '../../src/model/schema.js';
import { DEFAULT_SCHEMA } from '../../src/store/postgres/url.js';
import { CONTENT_COLUMNS, type PersonState, PersonDigest, sluice } from './db.js';
import type { PgServer } from './postgres-server.js';
import { type Databases, settleDisk } from './scenario.js';

/** The schema `sluice init --db URL` creates, which every contestant loads into. */
export const PG_SCHEMA = DEFAULT_SCHEMA;

/** Rows read back per FETCH: the harness's memory stays bounded whatever the table's size. */
const FETCH_ROWS = 10_000;

/** The database a URL of the bench's server names. */
export function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

/** A database name from a scenario's name for a copy (`initial-load-peer_p`): lower case, digits and `_`. */
export function databaseName(name: string): string {
  return `bench_${name.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
}

async function admin<T>(server: PgServer, fn: (c: Awaited<ReturnType<PgServer['connect']>>) => Promise<T>, database = 'postgres'): Promise<T> {
  const c = await server.connect(database);
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** `name`, a copy of the database `from` (no session may be connected to `from`). */
export async function copyDatabase(server: PgServer, from: string, name: string): Promise<string> {
  await admin(server, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${q(name)} WITH (FORCE)`);
    // FILE_COPY copies the files rather than writing every page through the WAL: cheaper for
    // a template holding a loaded Person table, and every copy starts with nothing in shared buffers.
    await c.query(`CREATE DATABASE ${q(name)} TEMPLATE ${q(from)} STRATEGY FILE_COPY`);
  });
  return server.url(name);
}

export async function dropDatabase(server: PgServer, url: string): Promise<void> {
  await admin(server, (c) => c.query(`DROP DATABASE IF EXISTS ${q(databaseOf(url))} WITH (FORCE)`));
}

/** What an operator's maintenance would have done after a load: the visibility map set and the planner's statistics taken. */
export async function vacuumAnalyze(server: PgServer, url: string): Promise<void> {
  await admin(server, (c) => c.query('VACUUM (ANALYZE)'), databaseOf(url));
}

/** A database holding Sluice's schema (`sluice init`) and the organizations, loaded with Sluice: the template of every scenario. */
export async function createPgTemplate(server: PgServer, name: string, organizationsFile: string): Promise<string> {
  await admin(server, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${q(name)} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${q(name)}`);
  });
  const url = server.url(name);
  sluice(['init', '--db', url]);
  sluice(['import', '--class', 'Organization', '--file', organizationsFile, '--keys', 'name', '--output', 'summary', '--progress', 'none', '--db', url]);
  await vacuumAnalyze(server, url);
  return url;
}

/** The Person rows of the database at `url`, digested as personState digests an SQLite file's. */
export async function pgPersonState(server: PgServer, url: string): Promise<PersonState> {
  return admin(
    server,
    async (c) => {
      const digest = new PersonDigest();
      // An empty cell may be stored as '' or NULL depending on who wrote it; both mean "no value".
      // email is COLLATE "C" in Sluice's schema: the rows come in SQLite's order.
      const cols = CONTENT_COLUMNS.map((col) => `COALESCE(${q(col)}::text, '')`).join(', ');
      await c.query('BEGIN READ ONLY');
      await c.query(`DECLARE person NO SCROLL CURSOR FOR SELECT ${cols} FROM ${q(PG_SCHEMA)}."Person" ORDER BY email, id`);
      for (;;) {
        const r = await c.query<unknown[]>({ text: `FETCH ${FETCH_ROWS} FROM person`, rowMode: 'array' });
        for (const row of r.rows) digest.add(row);
        if (r.rows.length < FETCH_ROWS) break;
      }
      await c.query('COMMIT');
      return digest.state();
    },
    databaseOf(url),
  );
}

/**
 * The scenarios' databases on `server`. Before each contestant:
 * - every other copy still there (a database kept for a later scenario) is vacuumed and
 *   analyzed once, so that autovacuum, which would get to it after a load, does not work on
 *   it while another contestant is measured;
 * - a CHECKPOINT writes out what the copy and the previous contestant left in shared buffers
 *   and the WAL, then `sync` what the OS holds: no contestant pays for another's writes.
 */
export function pgDatabases(server: PgServer): Databases {
  const live = new Set<string>();
  const maintained = new Set<string>();
  return {
    async copy(start, name) {
      const db = await copyDatabase(server, databaseOf(start), databaseName(name));
      live.add(db);
      maintained.delete(db);
      return db;
    },
    state: (db) => pgPersonState(server, db),
    async remove(db) {
      await dropDatabase(server, db);
      live.delete(db);
    },
    async settle(next) {
      for (const db of live) {
        if (db === next || maintained.has(db)) continue;
        await vacuumAnalyze(server, db);
        maintained.add(db);
      }
      await admin(server, (c) => c.query('CHECKPOINT'));
      settleDisk();
    },
  };
}
