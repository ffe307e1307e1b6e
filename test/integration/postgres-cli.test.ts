/**
 * `sluice init --db postgres://…` through the built CLI against a real server, and the one
 * clear line the commands that cannot use a PostgreSQL URL yet give it (export, changes and
 * history can: postgres-read.test.ts).
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { schemaState } from '../../src/store/postgres/store.js';
import { parsePostgresUrl } from '../../src/store/postgres/url.js';
import { runCli } from '../helpers/cli.js';
import { usePostgres } from '../helpers/postgres.js';

const server = usePostgres();

const SECRET = 'N0t-4-pr1nt';
const CMDB_CLASSES = 'created schema sluice in URL with 8 classes (Organization, Location, Person, Team, Profile, UserLocal, Software, Server)\n';

/** An empty working directory for the CLI, removed after the test. */
function workDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-pg-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function connect(t: TestContext, url: string): Promise<pg.Client> {
  const client = await server().connect(parsePostgresUrl(url).database);
  t.after(() => client.end());
  return client;
}

/** The URL with a password in it: the server trusts local connections and ignores it, messages must hide it. */
function withPassword(url: string): string {
  return url.replace('postgres@', `postgres:${SECRET}@`);
}

const masked = (url: string): string => url.replace(`:${SECRET}@`, ':***@');

describe('sluice init --db postgres://…', () => {
  it('creates the cmdb schema with its seed objects', async (t) => {
    const url = await server().freshDatabase();
    const r = await runCli(['init', '--db', url], { cwd: workDir(t) });
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, CMDB_CLASSES.replace('URL', url));
    assert.equal(r.code, 0);
    const c = await connect(t, url);
    assert.equal(await schemaState(c, 'sluice'), 'sluice');
    const profiles = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM sluice."Profile"');
    assert.equal(profiles.rows[0]?.n, 13);
  });

  it('creates a custom model in the schema ?schema= names, never printing the password', async (t) => {
    const dir = workDir(t);
    const model = join(dir, 'inventory.json');
    writeFileSync(
      model,
      JSON.stringify({
        classes: {
          Site: { attributes: { name: { type: 'string', unique: true }, open: { type: 'boolean' } }, reconciliation: ['name'] },
          Rack: { attributes: { label: { type: 'string' }, site_id: { type: 'ref', class: 'Site' }, sites: { type: 'links', class: 'Site' } } },
        },
      }),
    );
    const url = `${withPassword(await server().freshDatabase())}?schema=inventory`;
    const r = await runCli(['init', '--db', url, '--model', model], { cwd: dir });
    assert.equal(r.stdout, `created schema inventory in ${masked(url)} with 2 classes (Site, Rack)\n`);
    assert.equal(r.code, 0);
    assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET));
    const c = await connect(t, url);
    const tables = await c.query<{ t: string }>(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'inventory' AND table_name NOT LIKE '\\_sluice\\_%' ORDER BY 1`);
    assert.deepEqual(tables.rows.map((row) => row.t), ['Rack', 'Rack_sites', 'Site']);
  });

  it('reaches the server through its unix socket (?host=/dir)', async (t) => {
    const url = await server().freshDatabase();
    const { database } = parsePostgresUrl(url);
    const socketUrl = `postgresql:///${database}?host=${server().socketDir}&port=${server().port}&user=postgres`;
    const r = await runCli(['init', '--db', socketUrl], { cwd: workDir(t) });
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    assert.equal(await schemaState(await connect(t, url), 'sluice'), 'sluice');
  });

  it('takes the URL from SLUICE_DB', async (t) => {
    const url = await server().freshDatabase();
    const r = await runCli(['init'], { cwd: workDir(t), env: { SLUICE_DB: url } });
    assert.equal(r.stdout, CMDB_CLASSES.replace('URL', url));
    assert.equal(r.code, 0);
  });

  it('refuses a second init of the same schema in one line, exit 2', async (t) => {
    const url = withPassword(await server().freshDatabase());
    const dir = workDir(t);
    assert.equal((await runCli(['init', '--db', url], { cwd: dir })).code, 0);
    const r = await runCli(['init', '--db', url], { cwd: dir });
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `sluice: database ${masked(url)} already holds the Sluice schema sluice; choose another --db, or another schema with ?schema=NAME, or drop that schema first\n`);
  });

  it('names --db and what is valid for a bad URL, from the option or from SLUICE_DB', async (t) => {
    const dir = workDir(t);
    const bad = `postgres://u:${SECRET}@127.0.0.1/db?schema=Upper`;
    const r = await runCli(['init', '--db', bad], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^sluice: --db: postgres:\/\/u:\*\*\*@127\.0\.0\.1\/db\?schema=Upper has schema="Upper", not a schema name Sluice creates \(valid: lower-case letters, digits and _[^\n]*\)\n$/);
    const env = await runCli(['init'], { cwd: dir, env: { SLUICE_DB: 'postgres://127.0.0.1' } });
    assert.equal(env.code, 2);
    assert.equal(env.stderr, 'sluice: --db (SLUICE_DB): postgres://127.0.0.1 names no database (valid: postgres://[user[:password]@]host[:port]/database[?schema=name])\n');
    assert.ok(!r.stderr.includes(SECRET));
    assert.deepEqual(readdirSync(dir), [], 'nothing is created in the working directory');
  });

  it('says it cannot connect, naming the URL without its password', async (t) => {
    const dir = workDir(t);
    const url = `postgres://postgres:${SECRET}@/db?host=${join(dir, 'no-server-here')}`;
    const r = await runCli(['init', '--db', url], { cwd: dir });
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^sluice: --db: cannot connect to postgres:\/\/postgres:\*\*\*@\/db\?host=\S+no-server-here: connect ENOENT \S+no-server-here\/\.s\.PGSQL\.5432\n$/);
  });

  it('says in its help that it takes a PostgreSQL URL', async (t) => {
    const r = await runCli(['init', '--help'], { cwd: workDir(t) });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--db FILE\|URL +database file to create; or postgres:\/\/user@host\/db\[\?schema=NAME\]: create schema NAME \(sluice if not given\) in that PostgreSQL database/);
    assert.match(r.stdout, /sluice init --db postgres:\/\//);
  });
});
