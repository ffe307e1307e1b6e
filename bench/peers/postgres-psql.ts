/**
 * Peer P: the pipeline a DBA would write on PostgreSQL with psql — `\copy` the feed into a
 * temporary staging table of text columns, then one INSERT … SELECT … ON CONFLICT DO UPDATE
 * into the schema Sluice created, reconciling on email and resolving the organization by
 * name: peer A's pipeline (sqlite-cli.ts), on PostgreSQL.
 *
 * The measured process is psql, from start to exit: the staging copy, the upsert and the
 * cleanup all run in the server meanwhile, so its wall time is the pipeline's; its peak RSS is
 * psql's own (the server's memory is not counted, for Sluice either).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { PERSON_HEADER } from '../../fixtures/generate.js';
import { q } from '../../src/model/schema.js';
import { type Contestant, type ContestantRun, type RunInput, failure, lastJsonLine } from '../lib/contestant.js';
import { measure } from '../lib/measure.js';
import { PSQL } from '../lib/paths.js';
import { PG_SCHEMA } from '../lib/postgres-db.js';
import { withoutPgEnv } from '../lib/postgres-server.js';
import { COPIED } from './sqlite-cli.js';

const UPDATED = [...COPIED.filter((c) => c !== 'email'), 'org_id'];

/** ON CONFLICT (email) needs a unique index on exactly that column. */
export const PEER_P_EMAIL_INDEX = 'Person__peer_p_email';

/** The staging table's columns: the feed's header, in its order, all text. */
export const STAGING_COLUMNS: readonly string[] = PERSON_HEADER.split(',');

/** A string literal of psql's `\copy`, which reads the rest of its line as it is: '' for a quote inside. */
export function psqlFileLiteral(path: string): string {
  // \copy takes the whole line: a line break would end the command inside the name.
  if (/[\r\n]/.test(path)) throw new Error(`psql's \\copy cannot read a file whose name holds a line break: ${JSON.stringify(path)}`);
  return `'${path.replaceAll("'", "''")}'`;
}

/**
 * The whole pipeline as one psql script.
 *
 * - The staging table is TEMP: not written to the WAL, dropped with the session. It is held in
 *   256 MB of temp_buffers (the default is 8 MB), as peer A holds its staging table in a 256 MB
 *   page cache. HEADER MATCH checks that the file's columns are the staging table's.
 * - An empty cell is staged as '' (FORCE_NOT_NULL; COPY's CSV default would make it NULL), as
 *   Sluice stores an empty value: otherwise the IS DISTINCT FROM below would take every row
 *   holding an empty cell for a change, and rewrite it, on every reload.
 * - The DO UPDATE has a WHERE that skips rows whose values are all equal: without it, a
 *   nightly reload that is 99 % unchanged rewrites every row and its index entries. It costs
 *   nothing on an initial load, where nothing conflicts.
 * - The last line is the report: the rows staged and the rows the upsert wrote (inserted or
 *   updated), psql's ROW_COUNT of each command.
 */
export function peerPScript(file: string, schema = PG_SCHEMA): string {
  const cols = (list: readonly string[], prefix = ''): string => list.map((c) => `${prefix}${q(c)}`).join(', ');
  return `\\set ON_ERROR_STOP on
SET search_path = ${q(schema)};
SET temp_buffers = '256MB';
CREATE TEMP TABLE staging (${STAGING_COLUMNS.map((c) => `${q(c)} text`).join(', ')});
\\copy staging FROM ${psqlFileLiteral(file)} WITH (FORMAT csv, HEADER MATCH, FORCE_NOT_NULL (${cols(STAGING_COLUMNS)}))
\\set staged :ROW_COUNT
INSERT INTO "Person" (${cols([...COPIED, 'org_id'])})
SELECT ${cols(COPIED, 's.')}, o.id
FROM staging AS s
LEFT JOIN "Organization" AS o ON o.name = s."org_id->name"
ON CONFLICT (email) DO UPDATE SET
  ${UPDATED.map((c) => `${q(c)} = excluded.${q(c)}`).join(',\n  ')}
WHERE (${cols(UPDATED, 'excluded.')})
  IS DISTINCT FROM (${cols(UPDATED, '"Person".')});
\\set written :ROW_COUNT
SELECT json_build_object('rows', :staged, 'written', :written);
DROP TABLE staging;
`;
}

/** Untimed, as a DBA's one-time setup: the unique index the upsert needs, and no second index on email. */
export async function preparePeerP(db: string): Promise<void> {
  const c = new pg.Client({ connectionString: db });
  await c.connect();
  try {
    await c.query(`DROP INDEX IF EXISTS ${q(PG_SCHEMA)}."Person__k_email"`);
    await c.query(`CREATE UNIQUE INDEX IF NOT EXISTS ${q(PEER_P_EMAIL_INDEX)} ON ${q(PG_SCHEMA)}."Person" (email)`);
  } finally {
    await c.end();
  }
}

export async function runPeerP(input: RunInput): Promise<ContestantRun> {
  const script = join(input.workDir, 'peer-p.sql');
  writeFileSync(script, peerPScript(input.file));
  // -X: no ~/.psqlrc; -A -t: rows only, unaligned, so the report is a line of JSON.
  const measured = await measure(PSQL, ['-X', '-q', '-A', '-t', '-d', input.db, '-f', script], { env: withoutPgEnv() });
  const report = lastJsonLine(measured.stdout);
  const error = failure(measured) ?? (report ? null : `no JSON line in the output: ${measured.stdout.slice(0, 300)}`);
  return { measured, rows: typeof report?.rows === 'number' ? report.rows : null, report, error };
}

export const peerP: Contestant = {
  id: 'peer_p',
  label: 'peer P (psql, Sluice schema)',
  usesDb: true,
  prepare: preparePeerP,
  run: runPeerP,
};
