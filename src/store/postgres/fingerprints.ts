/**
 * Record fingerprints in a PostgreSQL schema (see resolve/fingerprint.ts for what they are
 * and when a match counts): the generation counters in `_sluice_meta` that salt them, and
 * the committed fingerprints of a class, read into the same in-memory table SQLite's
 * workers use.
 */
import { FingerprintTable, TABLE_CAP, generationKey, keyedGenerationKey } from '../../resolve/fingerprint.js';
import { copyOutPairs } from './copy.js';
import { FP_COLUMN, q } from '../../model/schema.js';
import type { PgClient } from './store.js';

/** The generation counters of the schema (`_sluice_meta` keys `generation:…`). */
export async function readGenerations(client: PgClient): Promise<Map<string, number>> {
  const r = await client.query<{ key: string; value: string }>(`SELECT key, value FROM _sluice_meta WHERE key LIKE 'generation:%'`);
  return new Map(r.rows.map((x) => [x.key, Number(x.value)]));
}

/** Count one more committed change of `className`, made by rows all matched by `keys` (or not: null). */
export async function bumpGeneration(client: PgClient, className: string, keys: readonly string[] | null): Promise<void> {
  const names = [generationKey(className), ...(keys !== null && keys.length > 0 ? [keyedGenerationKey(className, keys)] : [])];
  await client.query(
    `INSERT INTO _sluice_meta (key, value) SELECT k, '1' FROM unnest($1::text[]) AS k
     ON CONFLICT (key) DO UPDATE SET value = (_sluice_meta.value::bigint + 1)::text`,
    [names],
  );
}

/**
 * The committed fingerprints of `className`, or null when it holds none, or more than `cap`
 * (such a class is looked up row by row). Streamed by one binary COPY: reading them a page
 * at a time as text, as SQLite does, kept the server formatting numbers for seconds.
 */
export async function loadFingerprints(client: PgClient, className: string, cap = TABLE_CAP): Promise<FingerprintTable | null> {
  const t = q(className);
  const max = await client.query<{ m: string | null }>(`SELECT max(id)::text AS m FROM ${t}`);
  const table = FingerprintTable.forIds(Number(max.rows[0]?.m ?? 0), cap);
  if (!table) return null;
  let loaded = 0;
  // Ids below 2^31 (forIds): an id's high half is 0.
  await copyOutPairs(client, `SELECT ${FP_COLUMN}, id FROM ${t} WHERE ${FP_COLUMN} IS NOT NULL LIMIT ${cap + 1}`, (fpHigh, fpLow, _idHigh, id) => {
    table.add(fpLow, fpHigh, id);
    loaded++;
  });
  // None at all (a class the run fills): nothing to match, nor to keep track of.
  return loaded === 0 || loaded > cap ? null : table;
}
