import { quoted } from '../base/errors.js';
import { findAttribute } from '../model/load.js';
import type { Attribute, ClassDef, Model, Scalar } from '../model/types.js';
import { CastFailure, castCell, emptyValue, type CastOptions } from './cast.js';
import type { DateParser } from './dates.js';
import type { ImportPlan, LinkSpec } from './plan.js';

export const NULL_CELL = '<NULL>';

/** A link-set item as written in a cell: the target attribute and its cast value. */
export interface LinkItem {
  attr: string;
  value: Scalar;
  text: string;
}

/**
 * Rows of one frame after header mapping and casting, before any lookup. Columnar;
 * row i's slots are values[i * slots ...]. `undefined` = leave untouched (--ignore-empty).
 */
export interface MappedRows {
  count: number;
  line: Int32Array;
  error: (string | null)[];
  warn: (string[] | null)[];
  values: (Scalar | undefined)[];
  /** per row × ref group: the sub-value tuple, null for an empty reference, undefined to leave it */
  refTuples: (Scalar[] | null | undefined)[];
  /** per row × link spec */
  linkItems: (LinkItem[] | undefined)[];
  id: (number | null)[];
  source: (string | null)[];
  sourceId: (string | null)[];
  /** a sync's rows: each record's cells as its replica keeps them */
  replica: string[] | null;
}

const ID_ATTR: Attribute = {
  code: 'id', label: 'id', type: 'integer', mandatory: false, unique: true, default: undefined, maxLength: undefined,
  pattern: undefined, values: undefined, target: undefined, itemKey: undefined, linkTable: undefined,
};

export interface MapOptions {
  dates: DateParser;
  /** a sync's rows: their cells as the replicas keep them (built here, in the workers, rather than by the writer) */
  replica?: boolean;
  /** rows to leave unmapped (a fingerprint matched them): their record is not read, and mapRowInto can map one later */
  skip?: Uint8Array;
  /**
   * A block mapped before and done with: its arrays are written over rather than allocated
   * again. An array of more than 16,384 values is a large object to V8, and allocating one
   * for every frame cost more than mapping the frame's rows. Its arrays may then be longer
   * than the block: `count` bounds it.
   */
  into?: MappedRows | undefined;
}

/** `a` with its first `len` entries set to `v`, when it has room; else a new array of them. */
function blank<T>(a: T[] | undefined, len: number, v: T): T[] {
  return a === undefined || a.length < len ? new Array<T>(len).fill(v) : a.fill(v, 0, len);
}

/** Per-plan lookups resolved once, so the per-row loop only indexes arrays. */
interface Prepared {
  slotAttrs: Attribute[];
  subAttrs: Attribute[][];
  passwordColumns: number[];
  targets: Map<string, ClassDef>;
  /** each column's `"name":` as a replica's JSON object starts it (the first with its brace), or null when plain concatenation would not give JSON.stringify's text */
  replicaKeys: string[] | null;
}

const prepared = new WeakMap<ImportPlan, Prepared>();

function prepare(model: Model, plan: ImportPlan): Prepared {
  let p = prepared.get(plan);
  if (p) return p;
  const cls = model.classes.get(plan.className) as ClassDef;
  const slotAttrs = plan.slots.map((code) => cls.byCode.get(code) as Attribute);
  const subAttrs = plan.refs.map((g) => {
    const target = model.classes.get(g.target) as ClassDef;
    return g.subs.map((s) => (s === 'id' ? ID_ATTR : (target.byCode.get(s) as Attribute)));
  });
  const passwordColumns: number[] = [];
  plan.columns.forEach((c, i) => {
    if (c.kind === 'scalar' && slotAttrs[c.slot]?.type === 'password') passwordColumns.push(i);
  });
  const targets = new Map<string, ClassDef>();
  for (const l of plan.links) targets.set(l.target, model.classes.get(l.target) as ClassDef);
  p = { slotAttrs, subAttrs, passwordColumns, targets, replicaKeys: replicaKeys(plan.header) };
  prepared.set(plan, p);
  return p;
}

/**
 * The keys of a replica's JSON object, in the header's order. JSON.stringify orders an
 * object's integer-like keys first and keeps one of a repeated key: such a header takes
 * the general path.
 */
function replicaKeys(header: readonly string[]): string[] | null {
  if (new Set(header).size !== header.length || header.some((h) => /^(0|[1-9][0-9]*)$/.test(h))) return null;
  return header.map((h, k) => `${k === 0 ? '{' : ','}${JSON.stringify(h)}:`);
}

/**
 * A record's cells as its replica keeps them: a JSON object by column name, passwords
 * masked, a missing cell empty. Concatenated from the header's keys and each cell's JSON
 * string: the same text as JSON.stringify of the object, at a third of its cost.
 */
function replicaText(p: Prepared, header: readonly string[], cells: readonly string[]): string {
  const keys = p.replicaKeys;
  if (keys === null || header.length === 0) return JSON.stringify(Object.fromEntries(header.map((h, k) => [h, cells[k] ?? ''])));
  let s = '';
  for (let k = 0; k < keys.length; k++) s += (keys[k] as string) + JSON.stringify(cells[k] ?? '');
  return `${s}}`;
}

/** A record's cells as the report shows them: passwords masked. */
function maskedCells(p: Prepared, rec: readonly (string | undefined)[]): string[] {
  const cells = rec.map((c) => c ?? '');
  for (const c of p.passwordColumns) if (c < cells.length && cells[c] !== '') cells[c] = '******';
  return cells;
}

/** The columns the details table masks (passwords). */
export function passwordColumns(model: Model, plan: ImportPlan): number[] {
  return prepare(model, plan).passwordColumns;
}

/**
 * Map and cast the records of one frame. Pure: no I/O. An `undefined` cell (a key
 * missing from a JSON object) leaves its attribute as it is.
 */
export function mapRows(model: Model, plan: ImportPlan, records: (string | undefined)[][], lines: Int32Array, opts: MapOptions): MappedRows {
  const p = prepare(model, plan);
  const n = records.length;
  const nSlots = plan.slots.length;
  const nRefs = plan.refs.length;
  const nLinks = plan.links.length;
  const into = opts.into;
  const out: MappedRows = into
    ? {
        count: n,
        line: lines,
        error: blank(into.error, n, null),
        warn: blank(into.warn, n, null),
        values: blank(into.values, n * nSlots, undefined),
        refTuples: blank(into.refTuples, n * nRefs, undefined),
        linkItems: blank(into.linkItems, n * nLinks, undefined),
        id: blank(into.id, n, null),
        source: blank(into.source, n, null),
        sourceId: blank(into.sourceId, n, null),
        replica: opts.replica ? new Array(n) : null,
      }
    : {
        count: n,
        line: lines,
        error: new Array(n).fill(null),
        warn: new Array(n).fill(null),
        values: new Array(n * nSlots),
        refTuples: new Array(n * nRefs),
        linkItems: new Array(n * nLinks),
        id: new Array(n).fill(null),
        source: new Array(n).fill(null),
        sourceId: new Array(n).fill(null),
        replica: opts.replica ? new Array(n) : null,
      };
  const castOpts: CastOptions = { dates: opts.dates };
  for (let i = 0; i < n; i++) if (opts.skip?.[i] !== 1) mapRecord(p, plan, records[i] as (string | undefined)[], i, out, castOpts);
  return out;
}

/**
 * Map one record into row `i` of `m`, a block mapped with this row left out (MapOptions.skip):
 * what mapRows would have put there.
 */
export function mapRowInto(model: Model, plan: ImportPlan, m: MappedRows, i: number, record: (string | undefined)[], opts: MapOptions): void {
  mapRecord(prepare(model, plan), plan, record, i, m, { dates: opts.dates });
}

/** Map and cast record `rec` into row `i` of `out`. */
function mapRecord(p: Prepared, plan: ImportPlan, rec: (string | undefined)[], i: number, out: MappedRows, castOpts: CastOptions): void {
  const width = plan.header.length;
  const nSlots = plan.slots.length;
  const nRefs = plan.refs.length;
  const nLinks = plan.links.length;
  if (out.replica) out.replica[i] = replicaText(p, plan.header, maskedCells(p, rec));
  if (rec.length !== width) {
    out.error[i] = `the row has ${rec.length} field${rec.length === 1 ? '' : 's'}, the header has ${width}`;
    return;
  }
  // No closure is made for a row: the errors are kept by columnError, which allocates only for a row in error.
  let errors: string[] | null = null;
  const base = i * nSlots;
  for (let c = 0; c < width; c++) {
    const spec = plan.columns[c];
    const cell = rec[c] ?? '';
    if (rec[c] === undefined && (spec?.kind === 'scalar' || spec?.kind === 'links')) continue;
    switch (spec?.kind) {
      case 'scalar': {
        const attr = p.slotAttrs[spec.slot] as Attribute;
        if (cell === '') out.values[base + spec.slot] = plan.ignoreEmpty ? undefined : emptyValue(attr);
        else if (cell === NULL_CELL) out.values[base + spec.slot] = null;
        else {
          const v = castCell(attr, cell, castOpts);
          if (v instanceof CastFailure) errors = columnError(errors, plan, c, v.message);
          else out.values[base + spec.slot] = v;
        }
        break;
      }
      case 'refSub':
        // Reference groups are assembled after the loop, from all their columns.
        break;
      case 'links':
        out.linkItems[i * nLinks + spec.link] = parseLinkCell(plan.links[spec.link] as LinkSpec, p.targets, cell, plan.ignoreEmpty, castOpts, (m) => (errors = columnError(errors, plan, c, m)));
        break;
      case 'id':
        if (cell !== '' && cell !== NULL_CELL) {
          const v = castCell(ID_ATTR, cell, castOpts);
          if (typeof v === 'number' && v > 0) out.id[i] = v;
          else errors = columnError(errors, plan, c, `${quoted(cell)} is not an object id (a positive integer)`);
        }
        break;
      case 'source':
        out.source[i] = cell === '' || cell === NULL_CELL ? null : cell;
        break;
      case 'source_id':
        out.sourceId[i] = cell === '' || cell === NULL_CELL ? null : cell;
        break;
      default:
        break;
    }
  }
  for (let g = 0; g < nRefs; g++) {
    const group = plan.refs[g] as (typeof plan.refs)[number];
    const subs = p.subAttrs[g] as Attribute[];
    const cols = group.columns;
    let allEmpty = true;
    let anyNull = false;
    let allMissing = true;
    for (let k = 0; k < cols.length; k++) {
      const raw = rec[cols[k] as number];
      if (raw !== undefined) allMissing = false;
      const cell = raw ?? '';
      if (cell === NULL_CELL) anyNull = true;
      else if (cell !== '') allEmpty = false;
    }
    if (allMissing) continue;
    if (allEmpty) {
      out.refTuples[i * nRefs + g] = anyNull || !plan.ignoreEmpty ? null : undefined;
      continue;
    }
    const tuple: Scalar[] = new Array(cols.length);
    let ok = true;
    for (let k = 0; k < cols.length; k++) {
      const col = cols[k] as number;
      const cell = rec[col] ?? '';
      const attr = subs[k] as Attribute;
      if (cell === '' || cell === NULL_CELL) {
        tuple[k] = cell === NULL_CELL ? null : emptyValue(attr);
        continue;
      }
      const v = castCell(attr, cell, castOpts);
      if (v instanceof CastFailure) {
        ok = false;
        errors = columnError(errors, plan, col, v.message);
      } else tuple[k] = v;
    }
    if (ok) out.refTuples[i * nRefs + g] = tuple;
  }
  // A sync's record is its source's: an object it creates carries the source's name and the record's key.
  if (plan.sync) {
    if (out.sourceId[i] === null) errors = columnError(errors, plan, plan.sourceIdColumn, `empty; every record of a sync needs its key in the source ${plan.sync.source}`);
    else out.source[i] = plan.sync.source;
  }
  if (errors) out.error[i] = errors.join('; ');
}

/** `errors` with column `col`'s message added (a new list for the row's first). */
function columnError(errors: string[] | null, plan: ImportPlan, col: number, msg: string): string[] {
  const out = errors ?? [];
  out.push(`column ${quoted(plan.header[col] as string)}: ${msg}`);
  return out;
}

const ITEM = /^(.+?)->(.+?):(.*)$/s;
const ITEM_SPLIT = /\r\n|[|\n\r]/;

function parseLinkCell(
  link: LinkSpec,
  targets: Map<string, ClassDef>,
  cell: string,
  ignoreEmpty: boolean,
  castOpts: CastOptions,
  fail: (msg: string) => void,
): LinkItem[] | undefined {
  if (cell === '') return ignoreEmpty ? undefined : [];
  if (cell === NULL_CELL) return [];
  const target = targets.get(link.target) as ClassDef;
  const items: LinkItem[] = [];
  for (const raw of cell.split(ITEM_SPLIT)) {
    const text = raw.trim();
    if (text === '') continue;
    let attr: Attribute | undefined;
    let value = text;
    const m = ITEM.exec(text);
    if (m) {
      const key = (m[1] as string).trim();
      if (key.toLowerCase() !== link.itemKey.toLowerCase() && key.toLowerCase() !== link.target.toLowerCase()) {
        fail(`item ${quoted(text)}: ${quoted(key)} is not the item key of ${link.label} (write ${link.itemKey}->attribute:value or just the value)`);
        continue;
      }
      const attrName = (m[2] as string).trim();
      attr = attrName.toLowerCase() === 'id' ? ID_ATTR : findAttribute(target, attrName);
      if (!attr || attr.type === 'links' || attr.type === 'password') {
        fail(`item ${quoted(text)}: ${target.name} has no attribute ${quoted(attrName)} to identify an item (valid: ${target.attributes.filter((a) => a.type !== 'links' && a.type !== 'password').map((a) => a.code).join(', ')})`);
        continue;
      }
      value = (m[3] as string).trim();
    } else {
      attr = link.itemAttr === 'id' ? ID_ATTR : (target.byCode.get(link.itemAttr) as Attribute);
    }
    const v = castCell(attr, value, castOpts);
    if (v instanceof CastFailure) {
      fail(`item ${quoted(text)}: ${v.message}`);
      continue;
    }
    items.push({ attr: attr.code, value: v, text });
  }
  return items;
}
