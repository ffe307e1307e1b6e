/**
 * One result row → one output record (CSV/TSV line or JSON object). Pure and
 * synchronous: it runs once per exported object, so per-column decisions are made
 * once in the constructor and the per-row loop only indexes arrays.
 */
import type { Scalar } from '../model/types.js';
import { csvLine } from '../report/csv.js';
import { NULL_CELL } from '../rows/map.js';
import { type LinkItemSpec, type LinkItemText, guardCell, isNumericType, jsonValue, linkCell, linkItemText, valueCell } from './cells.js';
import type { ExportColumn } from './columns.js';
import type { RowLayout } from './query.js';

export type ExportFormat = 'csv' | 'tsv' | 'json';

export interface RowFormatOptions {
  format: ExportFormat;
  /** the field separator (csv/tsv) */
  separator: string;
  /** prefix formula-looking cells with ' (csv/tsv) */
  guard: boolean;
  /** per export column: the link items whose value names several objects (links columns only) */
  shared: (ReadonlySet<Scalar> | null)[];
}

/** Things worth telling the user after an export, counted while writing. */
export interface ExportStats {
  rows: number;
  /** cells prefixed with ' by the formula guard */
  guarded: number;
  /** link items written as key->id:N */
  itemsById: number;
  /** references whose object is missing or has only empty key values: they read back as empty */
  lostRefs: number;
  /** string cells holding the text <NULL>, which the importer reads as null */
  nullLookalikes: number;
  /** objects naming themselves or a later object of their class, written twice (without those cells, then with them) */
  twice: number;
}

export function emptyStats(): ExportStats {
  return { rows: 0, guarded: 0, itemsById: 0, lostRefs: 0, nullLookalikes: 0, twice: 0 };
}

interface Col {
  c: ExportColumn;
  value: number;
  ref: { stored: number; joined: number } | null;
  /** the first column of its reference group, which does the group's bookkeeping */
  refLead: boolean;
  /** the other columns of the same reference group (on the lead only) */
  group: number[];
  guardable: boolean;
  item: LinkItemSpec | null;
  shared: ReadonlySet<Scalar> | null;
  jsonKey: string;
  /** it names objects of the exported class: left empty in an object's first record when it names a later one */
  self: boolean;
}

export class RowFormatter {
  readonly stats: ExportStats = emptyStats();
  private readonly cols: Col[];
  private readonly cells: string[];
  /** the result index of the "names a later object" flag, or -1 */
  private readonly later: number;

  constructor(
    columns: readonly ExportColumn[],
    layout: RowLayout,
    private readonly opts: RowFormatOptions,
  ) {
    this.later = layout.later;
    const leads = new Map<string, number>();
    this.cols = columns.map((c, i) => {
      let refLead = false;
      if (c.kind === 'refSub' && !leads.has(c.attr.code)) {
        leads.set(c.attr.code, i);
        refLead = true;
      }
      return {
        c,
        value: layout.value[i] as number,
        ref: layout.ref[i] ?? null,
        refLead,
        group: [],
        guardable: opts.guard && opts.format !== 'json' && !isNumericType(c.type),
        item: c.kind === 'links' ? { itemAttr: c.itemAttr, itemType: c.itemAttr === 'id' ? 'integer' : (c.target.byCode.get(c.itemAttr)?.type ?? 'string'), itemKey: c.itemKey } : null,
        shared: opts.shared[i] ?? null,
        jsonKey: `${JSON.stringify(c.header)}:`,
        self: layout.self[i] === true,
      };
    });
    this.cols.forEach((col, i) => {
      if (col.c.kind === 'refSub' && !col.refLead) this.cols[leads.get(col.c.attr.code) as number]?.group.push(i);
    });
    this.cells = new Array(columns.length);
  }

  /** The header record (attribute codes, `attr->sub` for references). */
  header(): string {
    const names = this.cols.map((c) => c.c.header);
    if (this.opts.format === 'json') return '[';
    return csvLine(names, this.opts.separator) + '\n';
  }

  /** What ends the output. */
  footer(): string {
    if (this.opts.format !== 'json') return '';
    return this.stats.rows === 0 ? ']\n' : '\n]\n';
  }

  /**
   * One object as a record, with its line terminator (json: with the separator before it).
   * In the first pass, an object naming a later object of its class has those cells empty;
   * the second pass (`again`) writes it whole.
   */
  record(row: readonly Scalar[], again = false): string {
    const first = this.stats.rows === 0;
    this.stats.rows++;
    const withoutSelf = !again && this.later >= 0 && row[this.later] === 1;
    if (withoutSelf) this.stats.twice++;
    return this.opts.format === 'json' ? (first ? '\n' : ',\n') + this.jsonRecord(row, withoutSelf) : this.csvRecord(row, withoutSelf);
  }

  private csvRecord(row: readonly Scalar[], withoutSelf: boolean): string {
    const cells = this.cells;
    for (let i = 0; i < this.cols.length; i++) {
      const col = this.cols[i] as Col;
      if (withoutSelf && col.self) {
        cells[i] = '';
        continue;
      }
      let cell = this.cellText(col, row, i);
      if (col.guardable && cell.length > 0 && cell !== NULL_CELL) {
        const g = guardCell(cell);
        if (g !== cell) {
          cell = g;
          this.stats.guarded++;
        }
      }
      cells[i] = cell;
    }
    const line = csvLine(cells, this.opts.separator);
    // A lone empty cell would make a blank line, which the importer skips.
    return (line === '' ? '""' : line) + '\n';
  }

  private cellText(col: Col, row: readonly Scalar[], i: number): string {
    const c = col.c;
    const v = row[col.value] ?? null;
    switch (c.kind) {
      case 'reserved':
        return v === null ? '' : String(v);
      case 'attr': {
        const cell = valueCell(c.type, v);
        if (v === NULL_CELL && c.type !== 'ref') this.stats.nullLookalikes++;
        return cell;
      }
      case 'refSub': {
        const ref = col.ref as { stored: number; joined: number };
        if (row[ref.stored] === null || row[ref.stored] === undefined) return '';
        if (col.refLead) this.checkRef(col, row, i);
        if (row[ref.joined] === null) return '';
        return valueCell(c.type, v);
      }
      case 'links':
        return this.linkText(col, v);
    }
  }

  /** A reference that reads back as empty: its object is gone, or all its written key values are empty. */
  private checkRef(col: Col, row: readonly Scalar[], i: number): void {
    const ref = col.ref as { stored: number; joined: number };
    if (row[ref.joined] === null) {
      this.stats.lostRefs++;
      return;
    }
    for (const k of [i, ...col.group]) {
      const v = row[(this.cols[k] as Col).value];
      if (v !== null && v !== '' && v !== undefined) return;
    }
    this.stats.lostRefs++;
  }

  private linkText(col: Col, v: Scalar): string {
    if (typeof v !== 'string' || v === '[]') return '';
    const pairs = JSON.parse(v) as [number, Scalar][];
    const items: LinkItemText[] = new Array(pairs.length);
    for (let k = 0; k < pairs.length; k++) {
      const [id, value] = pairs[k] as [number, Scalar];
      const it = linkItemText(col.item as LinkItemSpec, id, value, value !== null && col.shared !== null && col.shared.has(value));
      if (it.byId) this.stats.itemsById++;
      items[k] = it;
    }
    return linkCell(items);
  }

  private jsonRecord(row: readonly Scalar[], withoutSelf: boolean): string {
    let out = '{';
    for (let i = 0; i < this.cols.length; i++) {
      const col = this.cols[i] as Col;
      const c = col.c;
      const v = row[col.value] ?? null;
      let value: Scalar;
      if (withoutSelf && col.self) {
        out += (i > 0 ? ',' : '') + col.jsonKey + (c.kind === 'links' ? '""' : 'null');
        continue;
      }
      switch (c.kind) {
        case 'reserved':
        case 'attr':
          value = jsonValue(c.type, v);
          break;
        case 'refSub': {
          const ref = col.ref as { stored: number; joined: number };
          if (row[ref.stored] !== null && col.refLead) this.checkRef(col, row, i);
          value = row[ref.stored] === null || row[ref.joined] === null ? null : jsonValue(c.type, v);
          break;
        }
        case 'links':
          value = this.linkText(col, v);
          break;
      }
      out += (i > 0 ? ',' : '') + col.jsonKey + JSON.stringify(value);
    }
    return out + '}';
  }
}
