/**
 * Peer A (SPEC §8): the SQL pipeline a DBA would write with the sqlite3 command-line tool —
 * `.import` the feed into a staging table, then one INSERT … SELECT … ON CONFLICT DO UPDATE
 * into the schema Sluice created, reconciling on email and resolving the organization by name.
 *
 * The measured process is sqlite3 itself, from start to exit: staging, upsert and cleanup.
 * Peer A′ (`sqlite-cli-minimal.ts`) runs the same pipeline on a database that holds nothing
 * but the columns loaded.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { type Contestant, type ContestantRun, type RunInput, failure, lastJsonLine } from '../lib/contestant.js';
import { measure } from '../lib/measure.js';
import { SQLITE3 } from '../lib/paths.js';

/** Person columns filled from the feed, by the feed's column of the same name. */
export const COPIED = ['first_name', 'name', 'email', 'phone', 'mobile_phone', 'function', 'employee_number', 'status', 'notify'];
const UPDATED = [...COPIED.filter((c) => c !== 'email'), 'org_id'];

/** ON CONFLICT needs a unique index on exactly the conflict target. */
export const UNIQUE_EMAIL_INDEX = 'Person__peer_a_email';

export function quoteSql(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/**
 * Peer A's storage settings: the same as Sluice's writer connection (WAL, synchronous=NORMAL,
 * 256 MB page cache, mmap), so the comparison is of the pipelines, not of the configuration.
 * The staging table stays in SQLite's temporary file rather than in memory (temp_store=MEMORY
 * measured no faster, and would hold a whole 10M-row feed in RAM).
 */
export const PEER_A_PRAGMAS = ['journal_mode = WAL', 'synchronous = NORMAL', 'cache_size = -262144', 'mmap_size = 268435456'];

/**
 * The whole pipeline as one sqlite3 script, after the given PRAGMAs.
 *
 * - The staging table is a TEMP table: the feed never goes through the WAL.
 * - The DO UPDATE has a WHERE that skips rows whose values are all equal. A DBA reloading a
 *   nightly feed that is 99 % unchanged writes it: without it every existing row is rewritten,
 *   its index entries and pages dirtied, for no change. It costs nothing on an initial load,
 *   where nothing conflicts.
 * - `WHERE true` resolves the parsing ambiguity between a join's ON and the upsert's ON CONFLICT.
 */
export function upsertScript(file: string, pragmas: readonly string[]): string {
  const q = (c: string): string => `"${c}"`;
  const changed = UPDATED.map((c) => `excluded.${q(c)} IS NOT "Person".${q(c)}`).join('\n     OR ');
  return `.bail on
${pragmas.map((p) => `PRAGMA ${p};`).join('\n')}
.import --csv --schema temp ${quoteSql(file)} staging
INSERT INTO "Person"(${[...COPIED, 'org_id'].map(q).join(', ')})
SELECT ${COPIED.map((c) => `s.${q(c)}`).join(', ')}, o.id
FROM temp.staging AS s
LEFT JOIN "Organization" AS o ON o.name = s."org_id->name"
WHERE true
ON CONFLICT(email) DO UPDATE SET
  ${UPDATED.map((c) => `${q(c)} = excluded.${q(c)}`).join(',\n  ')}
WHERE ${changed};
SELECT json_object('rows', (SELECT count(*) FROM temp.staging), 'written', changes());
DROP TABLE temp.staging;
`;
}

export function peerAScript(file: string): string {
  return upsertScript(file, PEER_A_PRAGMAS);
}

/** Untimed, as a DBA's one-time setup: the unique index the upsert needs, and no second index on email. */
export function preparePeerA(db: string): void {
  const d = new Database(db, { fileMustExist: true });
  try {
    d.exec(`DROP INDEX IF EXISTS "Person__k_email"`);
    d.exec(`CREATE UNIQUE INDEX IF NOT EXISTS "${UNIQUE_EMAIL_INDEX}" ON "Person"(email)`);
  } finally {
    d.close();
  }
}

/** Run a script with the sqlite3 tool on the contestant's database, measured; its last JSON line is its report. */
export async function runSqliteScript(input: RunInput, name: string, script: string): Promise<ContestantRun> {
  const path = join(input.workDir, name);
  writeFileSync(path, script);
  const measured = await measure(SQLITE3, ['-batch', input.db, `.read ${quoteSql(path)}`]);
  const report = lastJsonLine(measured.stdout);
  const error = failure(measured) ?? (report ? null : `no JSON line in the output: ${measured.stdout.slice(0, 300)}`);
  return { measured, rows: typeof report?.rows === 'number' ? report.rows : null, report, error };
}

export function runPeerA(input: RunInput): Promise<ContestantRun> {
  return runSqliteScript(input, 'peer-a.sql', peerAScript(input.file));
}

export const peerA: Contestant = {
  id: 'peer_a',
  label: 'peer A (sqlite3 CLI, Sluice schema)',
  usesDb: true,
  prepare: preparePeerA,
  run: runPeerA,
};
