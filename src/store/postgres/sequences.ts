/**
 * Sequences that must roll back with a transaction. SQLite's AUTOINCREMENT counters are part
 * of the transaction: a run rolled back gives the next run the same ids. A PostgreSQL
 * sequence is not: a writer marks where its sequences stand when its transaction opens and,
 * when it rolls back, puts them back there (it holds the writer lock, so nobody else took
 * an id meanwhile).
 */
import type { PgClient } from './store.js';

export interface SequenceMark {
  seq: string;
  value: string;
  called: boolean;
}

/** The sequences of the change records' and the history's ids. */
export async function trackingSequences(client: PgClient): Promise<string[]> {
  const r = await client.query<string[]>({ text: `SELECT pg_get_serial_sequence('_sluice_change', 'id'), pg_get_serial_sequence('_sluice_history', 'id')`, rowMode: 'array' });
  return r.rows[0] as string[];
}

/** Where each of `seqs` (qualified names) stands now. */
export async function markSequences(client: PgClient, seqs: readonly string[]): Promise<SequenceMark[]> {
  const out: SequenceMark[] = [];
  for (const seq of seqs) {
    const r = (await client.query<unknown[]>({ text: `SELECT last_value::text, is_called FROM ${seq}`, rowMode: 'array' })).rows[0] as [string, unknown];
    out.push({ seq, value: r[0], called: r[1] === 1 || r[1] === true });
  }
  return out;
}

/** Put the sequences back where `marks` saw them. */
export async function restoreSequences(client: PgClient, marks: readonly SequenceMark[]): Promise<void> {
  for (const s of marks) await client.query(`SELECT setval($1::regclass, $2::bigint, $3)`, [s.seq, s.value, s.called]);
}
