/**
 * openExport: a class streamed out of the store as a file `sluice import` reads back.
 *
 *   StoreReader, one snapshot ─▶ SELECT … ORDER BY id, page by page
 *     ─▶ RowFormatter (pure) ─▶ TextSink (charset, 64 Ki-character writes, waits for 'drain')
 *
 * SQLite: a read-only connection whose one page is the statement's iterator (one row at a
 * time); it runs beside an import (WAL) and sees the state as of its first read.
 * PostgreSQL: a read-only REPEATABLE READ transaction, its rows fetched from a server-side
 * cursor a page at a time (store/postgres/read.ts). Memory holds one page and one chunk of
 * output whatever the size of the class.
 */
import { SluiceError } from '../base/errors.js';
import { findClass } from '../model/load.js';
import type { ClassDef, Scalar } from '../model/types.js';
import { type ExportColumn, defaultColumns, requestedColumns } from './columns.js';
import type { ExportOptions } from './options.js';
import { type StoreReader, openReader } from './reader.js';
import { type ExportStats, RowFormatter } from './rows.js';
import { openSqliteReader } from '../store/sqlite/read.js';
import { TextSink } from '../report/sink.js';

export interface ExportJob {
  readonly cls: ClassDef;
  readonly columns: readonly ExportColumn[];
  /** Stream every object to `out` (not ended: it may be stdout). */
  write(out: NodeJS.WritableStream, signal?: AbortSignal): Promise<ExportStats>;
  /** What the user should know about the file just written (empty when nothing). */
  warnings(): string[];
  /** End the read: an SQLite file is closed before this returns; a PostgreSQL connection when the promise settles. */
  close(): Promise<void>;
}

/**
 * Open the SQLite database and settle everything that can fail on the user's input (class,
 * columns) before a byte is written.
 */
export function openExport(o: ExportOptions): ExportJob {
  const reader = openSqliteReader(o.db);
  try {
    const cls = findClass(reader.model, o.className);
    const columns = o.columns ? requestedColumns(reader.model, cls, o.columns) : defaultColumns(reader.model, cls, reader.hasSourceNow(cls));
    return new Job(reader, cls, columns, o);
  } catch (err) {
    reader.closeNow();
    throw err;
  }
}

/**
 * openExport for either store: `o.db` is an SQLite file or a PostgreSQL URL; `option` is how
 * messages name where it came from (`--db`, or `--db (SLUICE_DB)`).
 */
export async function openAnyExport(o: ExportOptions, option = '--db'): Promise<ExportJob> {
  const reader = await openReader(o.db, option);
  try {
    const cls = findClass(reader.model, o.className);
    const columns = o.columns ? requestedColumns(reader.model, cls, o.columns) : defaultColumns(reader.model, cls, await reader.hasSource(cls));
    return new Job(reader, cls, columns, o);
  } catch (err) {
    await reader.close();
    throw err;
  }
}

class Job implements ExportJob {
  private stats: ExportStats | null = null;
  private lossy = false;
  private readonly notes: string[] = [];

  constructor(
    private readonly reader: StoreReader,
    readonly cls: ClassDef,
    readonly columns: readonly ExportColumn[],
    private readonly o: ExportOptions,
  ) {}

  close(): Promise<void> {
    return this.reader.close();
  }

  async write(out: NodeJS.WritableStream, signal?: AbortSignal): Promise<ExportStats> {
    const { sql, laterSql, layout } = this.reader.exportQuery(this.cls, this.columns);
    const shared: (Set<Scalar> | null)[] = [];
    for (const c of this.columns) shared.push(c.kind === 'links' && c.itemAttr !== 'id' ? await this.reader.sharedItems(c.target, c.itemAttr) : null);
    const fmt = new RowFormatter(this.columns, layout, { format: this.o.format, separator: this.o.separator, guard: this.o.guard, shared });
    const sink = new TextSink(out, this.o.charset);
    try {
      sink.add(fmt.header());
      const pass = async (sql: string, again: boolean): Promise<void> => {
        for await (const page of this.reader.pages(sql)) {
          for (const row of page) {
            if (sink.add(fmt.record(row, again))) {
              await sink.flush();
              if (signal?.aborted) throw new SluiceError('E_INTERRUPTED', `interrupted after ${fmt.stats.rows} ${this.cls.name} objects`);
            }
          }
        }
      };
      await pass(sql, false);
      // The objects that named a later object of their class, again, whole (same snapshot).
      if (laterSql !== null && fmt.stats.twice > 0) await pass(laterSql, true);
      sink.add(fmt.footer());
      await sink.finish();
      // Only a warning depends on it, so it runs after the data (same snapshot) rather than delaying the first byte.
      await this.checkSharedRefs();
    } finally {
      sink.release();
    }
    this.stats = fmt.stats;
    this.lossy = sink.lossy;
    return fmt.stats;
  }

  /** References the importer would find ambiguous, per reference written by value. */
  private async checkSharedRefs(): Promise<void> {
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
      const n = await this.reader.sharedRefs(this.cls, code, g.target, g.subs);
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
}
