/**
 * A PostgreSQL database as a Sluice store: connecting to it, and creating a model's schema
 * in it (`sluice init --db postgres://…`), the counterpart of model/store.ts initStore.
 */
import pg from 'pg';
import { SluiceError, asSluiceError } from '../../base/errors.js';
import { q } from '../../model/schema.js';
import { SCHEMA_VERSION, currentUser } from '../../model/store.js';
import type { Model } from '../../model/types.js';
import { writerLockKey } from './lock.js';
import { pgModelCheck, pgModelDDL, pgTable } from './schema.js';
import { type PgTarget, type SslMode, parsePostgresUrl } from './url.js';

export type PgClient = pg.Client;

function sslOf(mode: SslMode | undefined): pg.ClientConfig['ssl'] {
  switch (mode) {
    case undefined:
      return undefined; // the driver's default: PGSSLMODE, else no TLS
    case 'disable':
      return false;
    case 'require':
      // libpq's meaning: encrypted, the certificate not checked.
      return { rejectUnauthorized: false };
    case 'verify-ca':
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case 'verify-full':
      return { rejectUnauthorized: true };
  }
}

export function clientConfig(t: PgTarget): pg.ClientConfig {
  return {
    host: t.host,
    port: t.port,
    user: t.user,
    password: t.password,
    database: t.database,
    ssl: sslOf(t.sslmode),
    application_name: t.applicationName ?? 'sluice',
    connectionTimeoutMillis: t.connectTimeout === undefined ? undefined : t.connectTimeout * 1000,
  };
}

/** The SQLSTATE of an error the server sent; undefined for one of the connection (ECONNREFUSED…) or of Sluice. */
function sqlState(err: unknown): string | undefined {
  return err instanceof pg.DatabaseError ? err.code : undefined;
}

/**
 * A server's or a connection's error as one sentence naming the database (password masked)
 * and what was being done; Sluice's own errors pass as they are.
 */
export function pgError(err: unknown, t: PgTarget, doing: string): SluiceError {
  if (err instanceof SluiceError) return err;
  const state = sqlState(err);
  const errno = (err as { code?: unknown } | null)?.code;
  if (state !== undefined || typeof errno === 'string') {
    return new SluiceError('E_DB', `cannot ${doing} in ${t.shown}: ${(err as Error).message} (${state !== undefined ? `SQLSTATE ${state}` : errno})`, { option: '--db', cause: err });
  }
  return asSluiceError(err);
}

/**
 * A connection to the database the URL names; a failure to connect is an E_DB error naming
 * the option and the URL. `types` replaces the driver's conversions of values.
 */
export async function connectPostgres(t: PgTarget, types?: pg.CustomTypesConfig): Promise<PgClient> {
  const client = new pg.Client(types === undefined ? clientConfig(t) : { ...clientConfig(t), types });
  // A connection that breaks while idle is reported as an event; without a listener it would
  // end the process. The query that next uses the connection fails, and says so.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw new SluiceError('E_DB', `${t.option}: cannot connect to ${t.shown}: ${(err as Error).message}${sqlState(err) ? ` (SQLSTATE ${sqlState(err)})` : ''}`, { option: '--db', cause: err });
  }
  return client;
}

/** What the schema of `t` is in its database: absent, Sluice's (it has _sluice_meta), or something else. */
export async function schemaState(client: PgClient, schema: string): Promise<'absent' | 'sluice' | 'other'> {
  const r = await client.query<{ sluice: boolean }>(
    `SELECT to_regclass(format('%I._sluice_meta', nspname)) IS NOT NULL AS sluice FROM pg_namespace WHERE nspname = $1`,
    [schema],
  );
  const row = r.rows[0];
  if (row === undefined) return 'absent';
  return row.sluice ? 'sluice' : 'other';
}

function refuseExisting(t: PgTarget, state: 'sluice' | 'other'): SluiceError {
  const where = `database ${t.shown}`;
  const message =
    state === 'sluice'
      ? `${where} already holds the Sluice schema ${t.schema}; choose another --db, or another schema with ?schema=NAME, or drop that schema first`
      : `${where} already has a schema ${t.schema}, which is not a Sluice schema; choose another with ?schema=NAME in --db`;
  return new SluiceError('E_USAGE', message, { option: '--db' });
}

/**
 * Create the model's schema in the database `url` names, with its seed objects, in one
 * transaction: all of it or nothing. Refused when the schema exists. Two inits at once are
 * serialised by the schema's writer lock (held to the end of the transaction), so the
 * second finds the first's schema and refuses.
 */
export async function initPostgres(url: string | PgTarget, model: Model, source = '--db'): Promise<PgTarget> {
  const t = typeof url === 'string' ? parsePostgresUrl(url, source) : url;
  pgModelCheck(model);
  const client = await connectPostgres(t);
  try {
    const before = await schemaState(client, t.schema);
    if (before !== 'absent') throw refuseExisting(t, before);
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [writerLockKey(t.schema).toString()]);
    const now = await schemaState(client, t.schema);
    if (now !== 'absent') throw refuseExisting(t, now);
    for (const sql of pgModelDDL(model, t.schema)) await client.query(sql);
    const meta = `INSERT INTO ${pgTable(t.schema, '_sluice_meta')} (key, value) VALUES ($1, $2)`;
    await client.query(meta, ['schema_version', SCHEMA_VERSION]);
    await client.query(meta, ['model', JSON.stringify(model.file)]);
    await seed(client, t.schema, model);
    await client.query('COMMIT');
    return t;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    // Another init that created the schema between the two looks (without the lock: a schema
    // made by hand) is a refusal too.
    if (sqlState(err) === '42P06') throw refuseExisting(t, 'other');
    throw pgError(err, t, 'create the schema');
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The model's seed objects, under one change with a history entry each (model/store.ts seed). */
async function seed(client: PgClient, schema: string, model: Model): Promise<void> {
  const entries = Object.entries(model.file.seed ?? {});
  if (entries.length === 0) return;
  const now = new Date().toISOString();
  const change = await client.query<{ id: string }>(
    `INSERT INTO ${pgTable(schema, '_sluice_change')} ("user", started_at, finished_at, comment, class, action, outcome) VALUES ($1, $2, $3, 'sluice init: seed objects', $4, 'insert', 'committed') RETURNING id`,
    [currentUser(), now, now, entries.map(([c]) => c).join(',')],
  );
  const changeId = change.rows[0]?.id;
  const hist = `INSERT INTO ${pgTable(schema, '_sluice_history')} (change_id, class, object_id, op, changes) VALUES ($1, $2, $3, 'create', $4)`;
  let created = 0;
  for (const [cls, rows] of entries) {
    for (const row of rows) {
      const cols = Object.keys(row);
      const values = cols.map((c) => row[c] ?? null);
      const sql =
        cols.length === 0
          ? `INSERT INTO ${pgTable(schema, cls)} DEFAULT VALUES RETURNING id`
          : `INSERT INTO ${pgTable(schema, cls)} (${cols.map(q).join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`;
      const info = await client.query<{ id: string }>(sql, values);
      const changes = Object.fromEntries(cols.map((c) => [c, [null, row[c] ?? null]]));
      await client.query(hist, [changeId, cls, info.rows[0]?.id, JSON.stringify(changes)]);
      created++;
    }
  }
  await client.query(`UPDATE ${pgTable(schema, '_sluice_change')} SET created = $1, lines = $2 WHERE id = $3`, [created, created, changeId]);
}
