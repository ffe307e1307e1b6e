import type Database from 'better-sqlite3';
import { FP_COLUMN, q } from '../model/schema.js';
import type { Scalar } from '../model/types.js';
import { type TupleKey, hasEmpty, tupleKey } from './tuple.js';

type DB = Database.Database;
type Stmt = Database.Statement;

export interface Match {
  /** how many objects match (capped for empty-value tuples at 1,000,000) */
  count: number;
  /** id of the first match (lowest id), null when none */
  id: number | null;
  /** the requested columns of the object when exactly one matches */
  row: Scalar[] | null;
}

const NO_MATCH: Match = { count: 0, id: null, row: null };
/** IN-list sizes with a prepared statement each; a batch is padded up to the next size. */
const BATCH_SIZES = [1, 4, 16, 64, 256];

/**
 * Bulk lookups of value tuples on a class's columns through prepared statements.
 * The same code serves the workers (committed state) and the writer (in-run state).
 */
export interface LookupOptions {
  /** classes known to hold no object: every lookup on them is answered "no match" without a query */
  empty?: readonly string[];
  /** called before a query on a class's columns (the writer builds an index it deferred) */
  beforeQuery?: (table: string) => void;
  /**
   * classes no other writer changes while this connection is used (every class but the
   * imported one, during a run): their answers are kept, up to CACHE_CAP tuples per kind of
   * lookup, so a reference repeated across frames costs one query
   */
  stable?: readonly string[];
}

/** Answers kept per kind of lookup on a stable class (tuples of a few short values: about 2 MB). */
const CACHE_CAP = 20_000;

export class Lookup {
  private readonly stmts = new Map<string, Stmt>();
  private readonly empty: ReadonlySet<string>;
  private readonly stable: ReadonlySet<string>;
  private readonly cache = new Map<string, Map<TupleKey, Match>>();
  private readonly beforeQuery: ((table: string) => void) | undefined;

  constructor(
    private readonly db: DB,
    opts: LookupOptions = {},
  ) {
    this.empty = new Set(opts.empty ?? []);
    this.stable = new Set(opts.stable ?? []);
    this.beforeQuery = opts.beforeQuery;
  }

  /** Whether `table` is known to hold no object: every lookup on it answers "no match". */
  isEmpty(table: string): boolean {
    return this.empty.has(table);
  }

  /** The kept answers of one kind of lookup on a stable class, or null when it is not stable. */
  private cached(table: string, attrs: readonly string[], fetch: readonly string[]): Map<TupleKey, Match> | null {
    if (!this.stable.has(table)) return null;
    const kind = JSON.stringify([table, attrs, fetch]);
    let c = this.cache.get(kind);
    if (!c) this.cache.set(kind, (c = new Map()));
    else if (c.size > CACHE_CAP) c.clear();
    return c;
  }

  private stmt(sql: string): Stmt {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql).raw(true);
      this.stmts.set(sql, s);
    }
    return s;
  }

  /**
   * Resolve each distinct tuple of `attrs` values on `table`. Returns a map from
   * tupleKey to the match; `fetch` columns are returned for single matches.
   */
  resolve(table: string, attrs: readonly string[], tuples: Iterable<readonly Scalar[]>, fetch: readonly string[] = []): Map<TupleKey, Match> {
    const out = new Map<TupleKey, Match>();
    const pending: (readonly Scalar[])[] = [];
    const pendingKeys: TupleKey[] = [];
    const none = this.empty.has(table);
    if (!none) this.beforeQuery?.(table);
    const kept = none ? null : this.cached(table, attrs, fetch);
    for (const t of tuples) {
      const k = tupleKey(t);
      if (out.has(k)) continue;
      const known = kept?.get(k);
      out.set(k, known ?? NO_MATCH);
      if (none || known) continue;
      if (hasEmpty(t)) this.resolveOne(table, attrs, t, fetch, out, k);
      else {
        pending.push(t);
        pendingKeys.push(k);
      }
    }
    let i = 0;
    while (i < pending.length) {
      const left = pending.length - i;
      let size = BATCH_SIZES[BATCH_SIZES.length - 1] as number;
      for (const s of BATCH_SIZES) {
        if (s >= left) {
          size = s;
          break;
        }
      }
      const n = Math.min(size, left);
      const params: Scalar[] = [];
      for (let j = 0; j < size; j++) {
        const t = pending[i + Math.min(j, n - 1)] as readonly Scalar[];
        for (const v of t) params.push(v);
      }
      const sql = this.batchSql(table, attrs, size, fetch);
      const seen = new Map<TupleKey, Match>();
      for (const r of this.stmt(sql).all(...params) as Scalar[][]) {
        const key = tupleKey(r.slice(1, 1 + attrs.length));
        const prev = seen.get(key);
        if (prev) {
          seen.set(key, { count: prev.count + 1, id: prev.id, row: null });
        } else {
          seen.set(key, { count: 1, id: r[0] as number, row: fetch.length > 0 ? r.slice(1 + attrs.length) : [] });
        }
      }
      for (const [k, m] of seen) out.set(k, m);
      i += n;
    }
    if (kept) for (const k of pendingKeys) kept.set(k, out.get(k) as Match);
    return out;
  }

  private batchSql(table: string, attrs: readonly string[], size: number, fetch: readonly string[]): string {
    // No ORDER BY: sorting the batch costs a third of the lookup, and only ambiguous matches (errors) see more than one row.
    if (attrs.length === 1) return `SELECT ${['id', ...attrs, ...fetch].map(q).join(', ')} FROM ${q(table)} WHERE ${q(attrs[0] as string)} IN (${new Array(size).fill('?').join(', ')})`;
    // Several columns: a join with the tuples, which SQLite answers by index searches (a row-value
    // IN (VALUES …) scanned the whole index, or the table when the index is partial, as source +
    // source_id's is). DISTINCT: the batch is padded by repeating its last tuple.
    const cols = ['id', ...attrs, ...fetch].map((c) => `t.${q(c)}`).join(', ');
    const tuples = new Array(size).fill(`(${attrs.map(() => '?').join(', ')})`).join(', ');
    const on = attrs.map((a, k) => `t.${q(a)} = v.column${k + 1}`).join(' AND ');
    return `SELECT DISTINCT ${cols} FROM (VALUES ${tuples}) v JOIN ${q(table)} t ON ${on}`;
  }

  /** Tuples with empty values match by IS, which IN cannot express; they may match many objects. */
  private resolveOne(table: string, attrs: readonly string[], t: readonly Scalar[], fetch: readonly string[], out: Map<TupleKey, Match>, key: TupleKey): void {
    const where = attrs.map((a) => `${q(a)} IS ?`).join(' AND ');
    const rows = this.stmt(`SELECT ${['id', ...fetch].map(q).join(', ')} FROM ${q(table)} WHERE ${where} ORDER BY id LIMIT 2`).all(...t) as Scalar[][];
    if (rows.length === 0) return;
    const first = rows[0] as Scalar[];
    if (rows.length === 1) {
      out.set(key, { count: 1, id: first[0] as number, row: first.slice(1) });
      return;
    }
    const count = (this.stmt(`SELECT count(*) FROM (SELECT 1 FROM ${q(table)} WHERE ${where} LIMIT 1000000)`).get(...t) as [number])[0];
    out.set(key, { count, id: first[0] as number, row: null });
  }

  /**
   * Objects of `table` by record fingerprint. Keys are the
   * fingerprints as doubles (`fingerprintDouble`), values the object id, or -1 when several
   * objects share the fingerprint. A double that stands for two of the queried fingerprints
   * is left out: those rows take the ordinary path.
   */
  fingerprints(table: string, fps: BigInt64Array): Map<number, number> {
    const halves = new Int32Array(fps.buffer, fps.byteOffset, fps.length * 2);
    const byDouble = new Map<number, number>();
    const pending: number[] = [];
    for (let i = 0; i < fps.length; i++) {
      const d = fingerprintDouble(halves, i);
      const seen = byDouble.get(d);
      if (seen === undefined) {
        byDouble.set(d, i);
        pending.push(i);
      } else if (seen >= 0 && fps[seen] !== fps[i]) byDouble.set(d, -1);
    }
    const size = BATCH_SIZES[BATCH_SIZES.length - 1] as number;
    const sql = `SELECT ${FP_COLUMN}, id FROM ${q(table)} WHERE ${FP_COLUMN} IN (${new Array(size).fill('?').join(', ')})`;
    let s = this.stmts.get(sql);
    if (!s) {
      // Read back as doubles: making a BigInt of every result costs more than telling them apart.
      s = this.db.prepare(sql).raw(true);
      this.stmts.set(sql, s);
    }
    const out = new Map<number, number>();
    const params = new Array<bigint>(size);
    for (let k = 0; k < pending.length; k += size) {
      const n = Math.min(size, pending.length - k);
      for (let j = 0; j < size; j++) params[j] = fps[pending[k + Math.min(j, n - 1)] as number] as bigint;
      for (const [d, id] of s.all(...params) as [number, number][]) {
        if ((byDouble.get(d) ?? -1) < 0) continue;
        out.set(d, out.has(d) ? -1 : id);
      }
    }
    return out;
  }

  /** The current members of link sets, per owner id. */
  linkMembers(linkTable: string, ownerIds: Iterable<number>): Map<number, number[]> {
    const out = new Map<number, number[]>();
    const sql = `SELECT from_id, to_id FROM ${q(linkTable)} WHERE from_id = ? ORDER BY to_id`;
    const s = this.stmt(sql);
    for (const id of ownerIds) {
      if (out.has(id)) continue;
      out.set(id, (s.all(id) as [number, number][]).map((r) => r[1]));
    }
    return out;
  }

  /** Up to three existing values of a column, to make "not found" errors actionable. */
  sample(table: string, attr: string): string[] {
    const rows = this.stmt(`SELECT DISTINCT ${q(attr)} FROM ${q(table)} WHERE ${q(attr)} IS NOT NULL AND ${q(attr)} <> '' ORDER BY ${q(attr)} LIMIT 3`).all() as Scalar[][];
    return rows.map((r) => String(r[0]));
  }
}

/** Fingerprint i of a BigInt64Array seen as Int32 halves, as the nearest double (as SQLite returns it). */
export function fingerprintDouble(halves: Int32Array, i: number): number {
  return (halves[i * 2 + 1] as number) * 4294967296 + ((halves[i * 2] as number) >>> 0);
}
