/**
 * Peer A′: peer A's pipeline as a DBA would run it on a database of their own design — the
 * Person columns the feed fills, one unique index on email, the organizations it joins to,
 * and nothing of Sluice's (no source columns, no fingerprints, no history, no change log).
 * Where peer A pays for keeping Sluice's schema, this one shows what the bare SQL costs.
 *
 * The measured process is sqlite3 itself, from start to exit: the staging import, the upsert
 * and cleanup, as for peer A.
 */
import { renameSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Contestant, ContestantRun, RunInput } from '../lib/contestant.js';
import { removeDb } from '../lib/db.js';
import { COPIED, runSqliteScript, upsertScript } from './sqlite-cli.js';

/**
 * The settings a DBA picks for a bulk load on a dedicated database: WAL, synchronous=NORMAL,
 * a 256 MB page cache, and the staging table in memory.
 */
export const PEER_A_MIN_PRAGMAS = ['journal_mode = WAL', 'synchronous = NORMAL', 'cache_size = -262144', 'temp_store = MEMORY'];

const q = (c: string): string => `"${c}"`;

/** The whole schema: the organization's key is unique, as the join on its name expects. */
export const MINIMAL_SCHEMA = `
CREATE TABLE "Organization" (id INTEGER PRIMARY KEY, "name" TEXT NOT NULL UNIQUE, "code" TEXT);
CREATE TABLE "Person" (id INTEGER PRIMARY KEY, ${COPIED.map((c) => `${q(c)} TEXT`).join(', ')}, "org_id" INTEGER REFERENCES "Organization"(id));
CREATE UNIQUE INDEX "Person__email" ON "Person"(email);
`;

const PERSON_COLUMNS = ['id', ...COPIED, 'org_id'].map(q).join(', ');

/**
 * Untimed: replace the contestant's copy of the starting database by a minimal one holding
 * the same organizations (same ids, so references compare) and the same people. The copy is
 * inserted in id order with the unique index already there, as its own loads would have left it.
 */
export function preparePeerAMin(db: string): void {
  const tmp = `${db}.minimal`;
  removeDb(tmp);
  const d = new Database(tmp);
  try {
    d.pragma('synchronous = OFF');
    d.pragma('cache_size = -262144');
    d.exec(MINIMAL_SCHEMA);
    d.prepare('ATTACH DATABASE ? AS src').run(db);
    d.exec(`INSERT INTO main."Organization"(id, "name", "code") SELECT id, "name", "code" FROM src."Organization" ORDER BY id`);
    d.exec(`INSERT INTO main."Person"(${PERSON_COLUMNS}) SELECT ${PERSON_COLUMNS} FROM src."Person" ORDER BY id`);
    d.exec('DETACH DATABASE src');
    d.pragma('journal_mode = WAL');
  } finally {
    d.close();
  }
  removeDb(db);
  renameSync(tmp, db);
}

export function runPeerAMin(input: RunInput): Promise<ContestantRun> {
  return runSqliteScript(input, 'peer-a-min.sql', upsertScript(input.file, PEER_A_MIN_PRAGMAS));
}

export const peerAMin: Contestant = {
  id: 'peer_a_min',
  label: 'peer A′ (sqlite3 CLI, minimal schema)',
  usesDb: true,
  prepare: preparePeerAMin,
  run: runPeerAMin,
};
