/**
 * Record fingerprints in a PostgreSQL schema (see resolve/fingerprint.ts for what they are
 * and when a match counts): the generation counters in `_sluice_meta` that salt them, and
 * the committed fingerprints of a class, read into the same in-memory table SQLite's
 * workers use.
 */
import { FingerprintTable, PAGE, TABLE_CAP, generationKey, keyedGenerationKey } from '../../resolve/fingerprint.js';
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
 * (such a class is looked up row by row). Read a page of ids at a time, each page
 * one string, as on SQLite.
 */
export async function loadFingerprints(client: PgClient, className: string, cap = TABLE_CAP): Promise<FingerprintTable | null> {
  const t = q(className);
  const max = await client.query<{ m: string | null }>(`SELECT max(id)::text AS m FROM ${t}`);
  const table = FingerprintTable.forIds(Number(max.rows[0]?.m ?? 0), cap);
  if (!table) return null;
  const triples = new Int32Array(PAGE * 3);
  const sql = `SELECT string_agg(${FP_COLUMN}::text || ',' || id::text, ',' ORDER BY id) AS p FROM (SELECT ${FP_COLUMN}, id FROM ${t} WHERE id > $1 AND ${FP_COLUMN} IS NOT NULL ORDER BY id LIMIT ${PAGE}) s`;
  let loaded = 0;
  for (let after = 0; ; ) {
    const r = await client.query<{ p: string | null }>(sql, [after]);
    const n = table.addPage(r.rows[0]?.p ?? null, triples);
    // None at all (a class the run fills): nothing to match, nor to keep track of.
    if (n === 0) return loaded === 0 ? null : table;
    loaded += n;
    if (loaded > cap) return null;
    after = triples[(n - 1) * 3 + 2] as number;
  }
}
