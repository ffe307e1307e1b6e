/**
 * A PostgreSQL schema as a StoreReader (export/reader.ts): what `sluice export`,
 * `sluice changes` and `sluice history` read, giving the same rows the SQLite reader gives
 * for the same data, so that both stores print the same bytes.
 *
 * - One connection, in one `REPEATABLE READ READ ONLY` transaction: every query sees the
 *   snapshot of the first, as SQLite's read transaction does. The transaction's search_path
 *   is the model's schema, so the export's queries (export/query.ts) name tables as they do
 *   on SQLite; identifiers still come only from the model.
 * - Values are converted as the driver parses them, not row by row afterwards: bigint to a
 *   number (as better-sqlite3 reads SQLite's 64-bit integers), boolean to 1/0 (what SQLite
 *   stores). The export's two dialect expressions (POSTGRES_DIALECT) return what SQLite's
 *   return: a link set as JSON text, `[]` when empty, booleans in it as 1/0; a flag as 1/0.
 * - An export's rows come from a server-side cursor, about PAGE_BYTES of values per fetch:
 *   memory holds one page, whatever the size of the class or of its values. History entries are read in keyset
 *   pages, as on SQLite, and ranges are expanded by the same pure code (export/history-read.ts).
 */
import pg from 'pg';
import { SluiceError } from '../../base/errors.js';
import { CHANGE_FIELDS, type ChangeRow } from '../../export/changes.js';
import type { ExportColumn } from '../../export/columns.js';
import type { HistoryEntry } from '../../export/history.js';
import { type LaterEntry, PAGE, type StoredEntry, rangeAttributes, sliceEntries } from '../../export/history-read.js';
import { type ExportDialect, type ExportQuery, exportQuery, hasSourceQuery, sharedItemsQuery, sharedRefsQuery } from '../../export/query.js';
import type { StoreReader } from '../../export/reader.js';
import { buildModel } from '../../model/load.js';
import { q } from '../../model/schema.js';
import type { ClassDef, Model, ModelFile, Scalar } from '../../model/types.js';
import { type PgClient, connectPostgres, schemaState } from './store.js';
import { type PgTarget, parsePostgresUrl } from './url.js';

/**
 * What an export holds at once: a page of about PAGE_BYTES of values. Its first fetch asks
 * for FIRST_PAGE rows; each next one for as many rows as the page before suggests fit in
 * PAGE_BYTES (rows of a class with long texts are fewer per page), at most MAX_PAGE.
 */
export const PAGE_BYTES = 1 << 20;
export const FIRST_PAGE = 100;
export const MAX_PAGE = 10_000;

/** The next fetch's row count, from the last page's rows and their approximate size. */
export function nextPageRows(rows: readonly (readonly Scalar[])[]): number {
  let bytes = 0;
  for (const row of rows) for (const v of row) bytes += typeof v === 'string' ? v.length + 8 : 8;
  if (rows.length === 0 || bytes === 0) return FIRST_PAGE;
  return Math.max(1, Math.min(MAX_PAGE, Math.floor((PAGE_BYTES * rows.length) / bytes)));
}

const { builtins } = pg.types;

/** The driver's conversions, but for bigint (a number) and boolean (1/0): values as the SQLite driver gives them. */
export const SQLITE_SHAPED_TYPES: pg.CustomTypesConfig = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === builtins.INT8) return (v: string): number => Number(v);
    if (oid === builtins.BOOL) return (v: string): number => (v === 't' ? 1 : 0);
    return format === undefined ? pg.types.getTypeParser(oid) : pg.types.getTypeParser(oid, format);
  },
};

/** The export query's store-specific expressions, returning what SQLite_DIALECT's return. */
export const POSTGRES_DIALECT: ExportDialect = {
  linkSet: (item, itemType, from, where) =>
    `(SELECT coalesce(json_agg(json_build_array(l.to_id, ${itemType === 'boolean' ? `${item}::int` : item}) ORDER BY l.to_id)::text, '[]') FROM ${from} WHERE ${where})`,
  flag: (test) => `CASE WHEN ${test} THEN 1 ELSE 0 END`,
};

const CHANGE_COLUMNS = CHANGE_FIELDS.map(q).join(', ');

const HISTORY_PAGE = `SELECT id, class, object_id, last_object_id, op, changes FROM _sluice_history WHERE change_id = $1 AND id > $2 ORDER BY id LIMIT ${PAGE}`;
const LATER_ENTRIES = `SELECT object_id, op, changes FROM _sluice_history WHERE object_id BETWEEN $1 AND $2 AND class = $3 AND id > $4 AND last_object_id IS NULL ORDER BY object_id, id`;

export class PostgresReader implements StoreReader {
  private cursors = 0;
  private closed = false;

  constructor(
    private readonly client: PgClient,
    readonly target: PgTarget,
    readonly model: Model,
  ) {}

  private async rows(text: string, values: unknown[] = []): Promise<Scalar[][]> {
    try {
      return (await this.client.query<Scalar[]>({ text, values, rowMode: 'array' })).rows;
    } catch (err) {
      throw readError(err, this.target);
    }
  }

  private async objects<R extends object>(text: string, values: unknown[] = []): Promise<R[]> {
    try {
      return (await this.client.query<R & pg.QueryResultRow>(text, values)).rows;
    } catch (err) {
      throw readError(err, this.target);
    }
  }

  exportQuery(cls: ClassDef, columns: readonly ExportColumn[]): ExportQuery {
    return exportQuery(cls, columns, POSTGRES_DIALECT);
  }

  async *pages(sql: string): AsyncGenerator<Iterable<Scalar[]>> {
    // A cursor's name is not a schema object: a counter keeps the two passes of an export apart.
    const cursor = `sluice_rows_${++this.cursors}`;
    await this.rows(`DECLARE ${cursor} NO SCROLL CURSOR FOR ${sql}`);
    try {
      for (let ask = FIRST_PAGE; ; ) {
        const rows = await this.rows(`FETCH FORWARD ${ask} FROM ${cursor}`);
        if (rows.length > 0) yield rows;
        if (rows.length < ask) return;
        ask = nextPageRows(rows);
      }
    } finally {
      // After a failed fetch the transaction is aborted and refuses this too: the rollback of close() ends the cursor then.
      await this.client.query(`CLOSE ${cursor}`).catch(() => undefined);
    }
  }

  async hasSource(cls: ClassDef): Promise<boolean> {
    return (await this.rows(hasSourceQuery(cls))).length > 0;
  }

  async sharedItems(target: ClassDef, itemAttr: string): Promise<Set<Scalar>> {
    return new Set((await this.rows(sharedItemsQuery(target, itemAttr))).map((r) => r[0] as Scalar));
  }

  async sharedRefs(cls: ClassDef, refCode: string, target: ClassDef, subs: readonly string[]): Promise<number> {
    return (await this.rows(sharedRefsQuery(cls, refCode, target, subs)))[0]?.[0] as number;
  }

  async recentChanges(limit: number, classes: readonly string[] | null = null): Promise<{ rows: ChangeRow[]; total: number }> {
    if (classes !== null && classes.length === 0) return { rows: [], total: 0 };
    const where = classes === null ? '' : 'WHERE class = ANY($1::text[])';
    const args: unknown[] = classes === null ? [] : [classes];
    const rows = await this.objects<ChangeRow>(`SELECT ${CHANGE_COLUMNS} FROM _sluice_change ${where} ORDER BY id DESC LIMIT $${args.length + 1}`, [...args, limit]);
    const total = (await this.rows(`SELECT count(*) FROM _sluice_change ${where}`, args))[0]?.[0] as number;
    return { rows, total };
  }

  async change(id: number): Promise<ChangeRow | undefined> {
    return (await this.objects<ChangeRow>(`SELECT ${CHANGE_COLUMNS} FROM _sluice_change WHERE id = $1`, [id]))[0];
  }

  async changeIds(): Promise<{ lo: number | null; hi: number | null }> {
    return (await this.objects<{ lo: number | null; hi: number | null }>('SELECT min(id) AS lo, max(id) AS hi FROM _sluice_change'))[0] ?? { lo: null, hi: null };
  }

  async *historyPages(changeId: number): AsyncGenerator<Iterable<HistoryEntry>> {
    let after = 0;
    for (;;) {
      const rows = await this.objects<StoredEntry>(HISTORY_PAGE, [changeId, after]);
      let page: HistoryEntry[] = [];
      for (const e of rows) {
        if (e.last_object_id === null) {
          page.push({ class: e.class, object_id: e.object_id, op: e.op, changes: e.changes });
          continue;
        }
        if (page.length > 0) yield page;
        page = [];
        yield* this.rangePages(e);
      }
      if (page.length > 0) yield page;
      if (rows.length < PAGE) return;
      after = (rows[rows.length - 1] as StoredEntry).id;
    }
  }

  /** The create entries of a range, a slice of objects per page (export/history-read.ts rangeEntries). */
  private async *rangePages(e: StoredEntry): AsyncGenerator<HistoryEntry[]> {
    const last = e.last_object_id as number;
    for (let lo = e.object_id; lo <= last; lo += PAGE) yield await rangeSlice((text, values) => this.rows(text, values), this.model, e, lo, Math.min(last, lo + PAGE - 1));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.query('ROLLBACK').catch(() => undefined);
    await this.client.end().catch(() => undefined);
  }
}

/**
 * The create entries of objects `lo`..`hi` (at most PAGE) of range `e`, as export/history-read.ts
 * rangeEntries gives them on SQLite: the objects as they are now and the entries written for
 * them since, read by `rows`, walked back by the same pure code.
 */
export async function rangeSlice(rows: (text: string, values: unknown[]) => Promise<Scalar[][]>, model: Model, e: StoredEntry, lo: number, hi: number): Promise<HistoryEntry[]> {
  const attrs = rangeAttributes(model, e);
  if (attrs.length === 0) return sliceEntries(e, attrs, lo, hi, [], []);
  const objects = `SELECT id, ${attrs.map(q).join(', ')} FROM ${q((model.classes.get(e.class) as ClassDef).name)} WHERE id BETWEEN $1 AND $2 ORDER BY id`;
  const now = await rows(objects, [lo, hi]);
  const later = (await rows(LATER_ENTRIES, [lo, hi, e.class, e.id])).map(([object_id, op, changes]): LaterEntry => ({ object_id: object_id as number, op: op as string, changes: changes as string }));
  return sliceEntries(e, attrs, lo, hi, now, later);
}

/**
 * A failure while reading (a server's error, a connection lost) as one line naming the option
 * and the URL, its password masked; Sluice's own errors pass as they are.
 */
export function readError(err: unknown, t: PgTarget): SluiceError {
  if (err instanceof SluiceError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const why = err instanceof pg.DatabaseError ? ` (SQLSTATE ${err.code})` : typeof code === 'string' ? ` (${code})` : '';
  return new SluiceError('E_DB', `${t.option}: cannot read schema ${t.schema} of ${t.shown}: ${err instanceof Error ? err.message : String(err)}${why}`, { option: '--db', cause: err });
}

/** The model stored in the schema (model/store.ts readModel). */
export async function readModel(client: PgClient, t: PgTarget): Promise<Model> {
  const r = await client.query<{ value: string }>(`SELECT value FROM _sluice_meta WHERE key = 'model'`);
  const value = r.rows[0]?.value;
  if (value === undefined) throw new SluiceError('E_DB', `${t.option}: schema ${t.schema} of ${t.shown} is not a Sluice schema (no model stored)`, { option: '--db' });
  return buildModel(JSON.parse(value) as ModelFile, `${t.shown} schema ${t.schema} (stored model)`);
}

/**
 * Open the Sluice schema the URL names for reading, in one snapshot. The database must be
 * reachable and hold the schema; each failure is one line naming the option and the URL,
 * its password masked.
 */
export async function openPostgresReader(url: string, option = '--db'): Promise<PostgresReader> {
  const t = parsePostgresUrl(url, option);
  const client = await connectPostgres(t, SQLITE_SHAPED_TYPES);
  try {
    const state = await schemaState(client, t.schema);
    if (state === 'absent') {
      throw new SluiceError('E_DB', `${option}: ${t.shown} has no Sluice schema ${t.schema} (sluice init --db creates one; ?schema=NAME names another)`, { option: '--db' });
    }
    if (state === 'other') {
      throw new SluiceError('E_DB', `${option}: the schema ${t.schema} of ${t.shown} is not a Sluice schema (it has no _sluice_meta table); name the one sluice init created with ?schema=NAME`, {
        option: '--db',
      });
    }
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // A bound value, not an identifier in the text; local: it ends with the transaction.
    await client.query(`SELECT set_config('search_path', $1, true)`, [q(t.schema)]);
    // An export's cursor is read to its end: planned for its first rows (the default, 0.1), a
    // 1,000,000-row export joined each object to its references by scanning their whole class.
    await client.query(`SELECT set_config('cursor_tuple_fraction', '1', true)`);
    return new PostgresReader(client, t, await readModel(client, t));
  } catch (err) {
    await client.end().catch(() => undefined);
    throw readError(err, t);
  }
}
