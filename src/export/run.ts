/**
 * openExport: a class streamed out of the store as a file `sluice import` reads back.
 *
 *   read-only connection, one snapshot ─▶ SELECT … ORDER BY id (.iterate(), one row at a time)
 *     ─▶ RowFormatter (pure) ─▶ TextSink (charset, 64 Ki-character writes, waits for 'drain')
 *
 * Memory holds one row and one chunk of output whatever the size of the class; the
 * connection is read-only, so an export runs beside an import (WAL) and sees the
 * state as of its first read.
 */
import type Database from 'better-sqlite3';
import { SluiceError } from '../base/errors.js';
import { findClass } from '../model/load.js';
import { openStore } from '../model/store.js';
import type { ClassDef, Scalar } from '../model/types.js';
import { type ExportColumn, defaultColumns, requestedColumns } from './columns.js';
import type { ExportOptions } from './options.js';
import { exportQuery, hasSourceQuery, sharedItemsQuery, sharedRefsQuery } from './query.js';
import { type ExportStats, RowFormatter } from './rows.js';
import { TextSink } from '../report/sink.js';

export interface ExportJob {
  readonly cls: ClassDef;
  readonly columns: readonly ExportColumn[];
  /** Stream every object to `out` (not ended: it may be stdout). */
  write(out: NodeJS.WritableStream, signal?: AbortSignal): Promise<ExportStats>;
  /** What the user should know about the file just written (empty when nothing). */
  warnings(): string[];
  close(): void;
}

/**
 * Open the database and settle everything that can fail on the user's input (class,
 * columns) before a byte is written.
 */
export function openExport(o: ExportOptions): ExportJob {
  const { db, model } = openStore(o.db, { create: false, readonly: true });
  try {
    // The reader's page cache, as the import's workers have: it bounds the process's memory.
    db.pragma('cache_size = -8192');
    const cls = findClass(model, o.className);
    // One read transaction: the pre-queries and the rows see the same snapshot.
    db.exec('BEGIN');
    const columns = o.columns ? requestedColumns(model, cls, o.columns) : defaultColumns(model, cls, db.prepare(hasSourceQuery(cls)).get() !== undefined);
    return new Job(db, cls, columns, o);
  } catch (err) {
    db.close();
    throw err;
  }
}

class Job implements ExportJob {
  private stats: ExportStats | null = null;
  private lossy = false;
  private readonly notes: string[] = [];

  constructor(
    private readonly db: Database.Database,
    readonly cls: ClassDef,
    readonly columns: readonly ExportColumn[],
    private readonly o: ExportOptions,
  ) {}

  async write(out: NodeJS.WritableStream, signal?: AbortSignal): Promise<ExportStats> {
    const { sql, laterSql, layout } = exportQuery(this.cls, this.columns);
    const shared = this.columns.map((c) => (c.kind === 'links' && c.itemAttr !== 'id' ? new Set(this.db.prepare(sharedItemsQuery(c.target, c.itemAttr)).pluck().all() as Scalar[]) : null));
    const fmt = new RowFormatter(this.columns, layout, { format: this.o.format, separator: this.o.separator, guard: this.o.guard, shared });
    const stmt = this.db.prepare(sql).raw(true);
    const sink = new TextSink(out, this.o.charset);
    try {
      sink.add(fmt.header());
      const pass = async (rows: IterableIterator<Scalar[]>, again: boolean): Promise<void> => {
        for (const row of rows) {
          if (sink.add(fmt.record(row, again))) {
            await sink.flush();
            if (signal?.aborted) throw new SluiceError('E_INTERRUPTED', `interrupted after ${fmt.stats.rows} ${this.cls.name} objects`);
          }
        }
      };
      await pass(stmt.iterate() as IterableIterator<Scalar[]>, false);
      // The objects that named a later object of their class, again, whole (same snapshot).
      if (laterSql !== null && fmt.stats.twice > 0) await pass(this.db.prepare(laterSql).raw(true).iterate() as IterableIterator<Scalar[]>, true);
      sink.add(fmt.footer());
      await sink.finish();
      // Only a warning depends on it, so it runs after the data (same snapshot) rather than delaying the first byte.
      this.checkSharedRefs();
    } finally {
      sink.release();
    }
    this.stats = fmt.stats;
    this.lossy = sink.lossy;
    return fmt.stats;
  }

  /** References the importer would find ambiguous, per reference written by value. */
  private checkSharedRefs(): void {
    const groups = new Map<string, { target: ClassDef; subs: string[]; headers: string[] }>();
    for (const c of this.columns) {
      if (c.kind !== 'refSub') continue;
      let g = groups.get(c.attr.code);
      if (!g) groups.set(c.attr.code, (g = { target: c.target, subs: [], headers: [] }));
      g.subs.push(c.sub);
      g.headers.push(c.header);
    }
    for (const [code, g] of groups) {
      if (g.subs.includes('id')) continue;
      const n = this.db.prepare(sharedRefsQuery(this.cls, code, g.target, g.subs)).pluck().get() as number;
      if (n > 0) {
        this.notes.push(
          `${n} ${this.cls.name} object${n === 1 ? '' : 's'} reference${n === 1 ? 's' : ''} ${/^[AEIOU]/i.test(g.target.name) ? 'an' : 'a'} ${g.target.name} whose ${g.subs.join(' + ')} another ${g.target.name} shares: ` +
            `import will report ${g.headers.join(', ')} as ambiguous (add sub-columns with --columns, or export ${code} as an id)`,
        );
      }
    }
  }

  warnings(): string[] {
    const out = [...this.notes];
    const s = this.stats;
    if (s === null) return out;
    const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
    if (s.itemsById > 0) {
      out.push(`${plural(s.itemsById, 'link item was', 'link items were')} written by id (key->id:N) because the value that names ${s.itemsById === 1 ? 'it' : 'them'} is shared, empty or cannot be written in a cell; they read back exactly only into this database`);
    }
    if (s.lostRefs > 0) {
      out.push(`${plural(s.lostRefs, 'reference', 'references')} could not be written by value (the referenced object is missing or its key values are empty) and will read back as empty`);
    }
    if (s.twice > 0) {
      out.push(
        `${plural(s.twice, `${this.cls.name} object names itself`, `${this.cls.name} objects name themselves`)} or a later ${this.cls.name}: written first without those cells, then again at the end with them, so one import of the file rebuilds them`,
      );
    }
    if (s.nullLookalikes > 0) {
      out.push(`${plural(s.nullLookalikes, 'cell holds', 'cells hold')} the text <NULL>, which import reads as null`);
    }
    if (s.guarded > 0) {
      out.push(`${plural(s.guarded, 'cell', 'cells')} starting with = + - @ (or tab, CR) ${s.guarded === 1 ? 'was' : 'were'} prefixed with ' against spreadsheet formulas; import would store the quote: use --raw for a file meant to be imported back`);
    }
    if (this.lossy) out.push(`some characters have no equivalent in ${this.o.charset} and were written as substitutes; --charset UTF-8 keeps every character`);
    return out;
  }

  close(): void {
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
    this.db.close();
  }
}
