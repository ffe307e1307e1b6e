/**
 * The reference applier of the differential test: SPEC §2's import semantics written as
 * plainly as they go — one row at a time, in file order, on plain objects in memory, with
 * no pool, no fingerprints, no filters and no batches — for the models and files the
 * generators produce (string, text, integer, ref, links and password attributes; CSV
 * without quoted cells).
 *
 * Where SPEC leaves a choice open, it does what the engine does today when that is
 * self-consistent; each such choice is marked "SPEC is silent". Messages are the engine's,
 * word for word, so that reports can be compared exactly.
 */
import type { AttrType, ModelFile, Scalar } from '../../src/model/types.js';
import type { Action, Case, DbObject, DbSnapshot, RunSpec } from './case.js';

export type RowStatus = 'created' | 'updated' | 'unchanged' | 'deleted' | 'skipped' | 'error';

// The report's counts are a plain record: the reference keeps them in the same shape.
export { type Counts, emptyCounts } from '../../src/report/types.js';
import { type Counts, emptyCounts } from '../../src/report/types.js';

/** One row of a run's report, as the details output and the JSON rows give it. */
export interface RowReport {
  line: number;
  status: RowStatus;
  id: number | null;
  changed?: string[] | undefined;
  message?: string | undefined;
  warnings?: string[] | undefined;
}

/** What a run gives back, engine or reference. */
export interface RunReport {
  exitCode: number;
  /** a usage or header error that stopped the run before any row (exit 2) */
  usage: string | null;
  rows: RowReport[];
  counts: Counts;
  rolledBack: Counts | null;
  lastCommittedLine: number | null;
  dataLines: number;
  /** the database once the run is over */
  snapshot: DbSnapshot;
}

export type MatchKind = 'id' | 'source' | 'keys' | 'none';

/**
 * What happened while a row was applied that the known-bug predicates (known-bugs.ts) ask
 * about. The engine's workers resolve against a committed state of the database, which may
 * be older than the one a row must see: "stale" means the answer in one of the committed
 * states the workers may have read differs from the answer when the row is applied.
 */
export interface RowFacts {
  line: number;
  /** the record as written in the file */
  record: string;
  matchBy: MatchKind;
  /** the row's key tuple matched several objects */
  ambiguousKeys: boolean;
  /** a reference into the imported class itself resolves to another object (or none) than in a committed state */
  staleSelfRef: boolean;
  /** a link set into the imported class itself resolves otherwise (other ids, another message) than in a committed state */
  staleSelfLink: boolean;
  /** a `<NULL>` password cell met a password that is null already */
  nullPasswordOnNull: boolean;
  /** a key given by a reference into the imported class that does not resolve in a committed state */
  workersMissSelfKey: boolean;
}

/** How a run's header was read, for the known-bug predicates. */
export interface PlanFacts {
  keys: string[];
  /** a reference or link set into the imported class itself */
  selfRef: boolean;
  selfLink: boolean;
}

export interface ReferenceRun extends RunReport {
  plan: PlanFacts | null;
  facts: RowFacts[];
}

// ------------------------------------------------------------------------- model

interface RAttr {
  code: string;
  label: string;
  type: AttrType;
  mandatory: boolean;
  unique: boolean;
  dflt: Scalar | undefined;
  /** ref, links: the target class */
  target: string | undefined;
  /** links: the item key of `key->attr:value` items */
  itemKey: string | undefined;
}

interface RClass {
  name: string;
  attrs: RAttr[];
  byCode: Map<string, RAttr>;
  reconciliation: string[];
}

const SUPPORTED: ReadonlySet<AttrType> = new Set<AttrType>(['string', 'text', 'integer', 'ref', 'links', 'password']);

function classesOf(file: ModelFile): Map<string, RClass> {
  const out = new Map<string, RClass>();
  for (const [name, c] of Object.entries(file.classes)) {
    const attrs: RAttr[] = Object.entries(c.attributes).map(([code, a]) => {
      if (!SUPPORTED.has(a.type)) throw new Error(`the reference applier does not model ${a.type} attributes (${name}.${code})`);
      if (a.maxLength !== undefined || a.pattern !== undefined) throw new Error(`the reference applier does not model maxLength or pattern (${name}.${code})`);
      return {
        code,
        label: a.label ?? code,
        type: a.type,
        mandatory: a.mandatory === true,
        unique: a.unique === true,
        dflt: a.default,
        target: a.class,
        itemKey: a.type === 'links' ? (a.itemKey ?? `${(a.class ?? '').toLowerCase()}_id`) : undefined,
      };
    });
    out.set(name, { name, attrs, byCode: new Map(attrs.map((a) => [a.code, a])), reconciliation: c.reconciliation ?? [] });
  }
  return out;
}

/** By code, then code or label case-insensitively (a code wins over a label). */
function findAttribute(cls: RClass, name: string): RAttr | undefined {
  const exact = cls.byCode.get(name);
  if (exact) return exact;
  const n = name.trim().toLowerCase();
  return cls.attrs.find((a) => a.code.toLowerCase() === n) ?? cls.attrs.find((a) => a.label.toLowerCase() === n);
}

function describe(a: RAttr): string {
  return a.label.toLowerCase() === a.code.toLowerCase() ? a.code : `${a.code} (${a.label})`;
}

/** The value of an empty cell: '' for text-like attributes, null otherwise. */
function emptyValue(type: AttrType | 'id'): Scalar {
  return type === 'string' || type === 'text' || type === 'password' ? '' : null;
}

// ------------------------------------------------------------------------- store

/** A password as stored: its plain text stands for the salted hash; `write` tells one hashing from another. */
interface Hashed {
  plain: string;
  write: number;
}

type Value = Scalar | Hashed;

function isHashed(v: Value | undefined): v is Hashed {
  return typeof v === 'object' && v !== null;
}

interface RObject {
  id: number;
  source: string | null;
  sourceId: string | null;
  values: Map<string, Value>;
  links: Map<string, number[]>;
}

interface State {
  /** class → id → object, in id order */
  objects: Map<string, Map<number, RObject>>;
  /** class → the last id given (AUTOINCREMENT: part of the transaction, so a rollback takes it back) */
  seq: Map<string, number>;
}

function cloneState(s: State): State {
  const objects = new Map<string, Map<number, RObject>>();
  for (const [cls, m] of s.objects) {
    const copy = new Map<number, RObject>();
    for (const [id, o] of m) copy.set(id, { id, source: o.source, sourceId: o.sourceId, values: new Map(o.values), links: new Map([...o.links].map(([k, v]) => [k, [...v]])) });
    objects.set(cls, copy);
  }
  return { objects, seq: new Map(s.seq) };
}

function valueOf(o: RObject, attr: string): Value {
  if (attr === 'id') return o.id;
  if (attr === 'source') return o.source;
  if (attr === 'source_id') return o.sourceId;
  return o.values.get(attr) ?? null;
}

/** The objects whose attributes equal the tuple (an empty value matches an empty value, null matches null). */
function matching(state: State, cls: string, attrs: readonly string[], tuple: readonly Scalar[]): RObject[] {
  const out: RObject[] = [];
  for (const o of (state.objects.get(cls) as Map<number, RObject>).values()) {
    if (attrs.every((a, k) => valueOf(o, a) === tuple[k])) out.push(o);
  }
  return out;
}

/** Up to three distinct values of an attribute, neither null nor empty, in SQLite's order. */
function sample(state: State, cls: string, attr: string): string[] {
  const seen = new Set<Scalar>();
  for (const o of (state.objects.get(cls) as Map<number, RObject>).values()) {
    const v = valueOf(o, attr);
    if (v === null || v === '' || isHashed(v)) continue;
    seen.add(v);
  }
  const sorted = [...seen].sort((a, b) => {
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    if (typeof a === 'number') return -1;
    if (typeof b === 'number') return 1;
    const x = String(a);
    const y = String(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return sorted.slice(0, 3).map(String);
}

/** Input text as messages quote it. */
function quoted(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

// ------------------------------------------------------------------------- plan

interface RefGroup {
  attr: RAttr;
  target: RClass;
  /** attribute codes of the target the columns name, 'id' for a plain reference column */
  subs: string[];
  columns: number[];
  slot: number;
}

interface LinkCol {
  attr: RAttr;
  target: RClass;
  column: number;
  /** what a bare item names: the target's first reconciliation attribute, else name, else id */
  itemAttr: string;
}

type Col =
  | { kind: 'id' | 'source' | 'source_id' }
  | { kind: 'scalar'; attr: RAttr; slot: number }
  | { kind: 'ref'; group: number }
  | { kind: 'links'; link: number };

interface Plan {
  cls: RClass;
  header: string[];
  cols: Col[];
  /** the attribute each value slot holds: scalars and references, in the order of their first column */
  slots: RAttr[];
  refs: RefGroup[];
  links: LinkCol[];
  keys: string[];
  keyLabels: string[];
  idCol: number;
  sourceCol: number;
  action: Action;
  ignoreEmpty: boolean;
}

class UsageError extends Error {}

function buildPlan(classes: Map<string, RClass>, spec: RunSpec): Plan {
  const cls = classes.get(spec.className);
  if (!cls) throw new UsageError(`unknown class ${spec.className}`);
  const header = splitRecord(spec.lines[0] ?? '');
  if (header.length === 1 && header[0] === '') throw new UsageError('the header is empty');
  const cols: Col[] = [];
  const slots: RAttr[] = [];
  const refs: RefGroup[] = [];
  const links: LinkCol[] = [];
  const claimed = new Set<string>();
  let idCol = -1;
  let sourceCol = -1;
  let sourceIdCol = -1;
  const claim = (what: string): void => {
    if (claimed.has(what)) throw new UsageError(`${what} appears twice`);
    claimed.add(what);
  };
  const refColumn = (attr: RAttr, sub: string, column: number): Col => {
    let g = refs.findIndex((r) => r.attr === attr);
    if (g < 0) {
      slots.push(attr);
      refs.push({ attr, target: classes.get(attr.target as string) as RClass, subs: [], columns: [], slot: slots.length - 1 });
      g = refs.length - 1;
    }
    (refs[g] as RefGroup).subs.push(sub);
    (refs[g] as RefGroup).columns.push(column);
    return { kind: 'ref', group: g };
  };
  header.forEach((raw, i) => {
    const name = raw.trim();
    if (name === '') throw new UsageError(`column ${i + 1} has no name`);
    const lower = name.toLowerCase();
    if (lower === 'id' || lower === 'source' || lower === 'source_id') {
      claim(lower);
      if (lower === 'id') idCol = i;
      else if (lower === 'source') sourceCol = i;
      else sourceIdCol = i;
      cols.push({ kind: lower });
      return;
    }
    const arrow = name.indexOf('->');
    if (arrow >= 0) {
      const attr = findAttribute(cls, name.slice(0, arrow).trim());
      if (!attr || attr.type !== 'ref') throw new UsageError(`unknown reference column ${name}`);
      const target = classes.get(attr.target as string) as RClass;
      const tail = name.slice(arrow + 2).trim();
      const sub = tail.toLowerCase() === 'id' ? 'id' : findAttribute(target, tail)?.code;
      if (sub === undefined || tail.includes('->')) throw new UsageError(`unknown reference column ${name}`);
      if (sub !== 'id' && ['links', 'password'].includes((target.byCode.get(sub) as RAttr).type)) throw new UsageError(`${name} cannot identify a reference`);
      claim(`${attr.code}->${sub}`);
      cols.push(refColumn(attr, sub, i));
      return;
    }
    const attr = findAttribute(cls, name);
    if (!attr) throw new UsageError(`unknown column ${name}`);
    if (attr.type === 'links') {
      claim(attr.code);
      const target = classes.get(attr.target as string) as RClass;
      links.push({ attr, target, column: i, itemAttr: target.reconciliation[0] ?? (target.byCode.has('name') ? 'name' : 'id') });
      cols.push({ kind: 'links', link: links.length - 1 });
      return;
    }
    if (attr.type === 'ref') {
      claim(`${attr.code}->id`);
      cols.push(refColumn(attr, 'id', i));
      return;
    }
    claim(attr.code);
    slots.push(attr);
    cols.push({ kind: 'scalar', attr, slot: slots.length - 1 });
  });
  for (const g of refs) if (g.subs.includes('id') && g.subs.length > 1) throw new UsageError(`${g.attr.code} is given both as an id and by attributes`);

  let keys: string[];
  if (spec.keys === undefined) keys = cls.reconciliation.filter((k) => slots.some((s) => s.code === k));
  else {
    keys = [];
    for (const raw of spec.keys) {
      const name = raw.trim();
      const attr = findAttribute(cls, name.includes('->') ? name.slice(0, name.indexOf('->')).trim() : name);
      if (!attr || attr.type === 'links' || attr.type === 'password') throw new UsageError(`--keys ${name} is not a key`);
      if (!slots.includes(attr)) throw new UsageError(`--keys ${name} has no column`);
      if (!keys.includes(attr.code)) keys.push(attr.code);
    }
  }
  const keyLabels = keys.map((k) => {
    const g = refs.find((r) => r.attr.code === k);
    return g ? g.subs.map((s) => `${k}->${s}`).join('+') : k;
  });
  if (keys.length === 0 && idCol < 0 && sourceCol < 0 && (spec.action === 'update' || spec.action === 'delete')) {
    throw new UsageError(`--action ${spec.action} needs a way to find objects`);
  }
  if ((sourceCol < 0) !== (sourceIdCol < 0)) throw new UsageError('source and source_id go together');
  return { cls, header, cols, slots, refs, links, keys, keyLabels, idCol, sourceCol, action: spec.action, ignoreEmpty: spec.ignoreEmpty };
}

/** The cells of a line: the generators never quote a cell, so a comma always separates. Unquoted cells are trimmed. */
function splitRecord(line: string): string[] {
  return line.split(',').map((c) => c.trim());
}

// ------------------------------------------------------------------------- cells

type Cast = { ok: true; value: Scalar } | { ok: false; message: string };

function castInteger(cell: string): Cast {
  const text = cell.trim();
  if (!/^[+-]?\d+$/.test(text)) return { ok: false, message: `${quoted(cell)} is not an integer` };
  const n = Number(text);
  if (!Number.isSafeInteger(n)) return { ok: false, message: `${quoted(cell)} is out of range for an integer (at most ±${Number.MAX_SAFE_INTEGER})` };
  return { ok: true, value: n === 0 ? 0 : n };
}

/** A non-empty cell that is not `<NULL>`, as a value of the attribute (`id`: an object id). */
function castCell(type: AttrType | 'id', cell: string): Cast {
  if (type === 'integer' || type === 'id') return castInteger(cell);
  if (type === 'string' || type === 'text' || type === 'password') return { ok: true, value: cell };
  throw new Error(`the reference applier does not cast ${type} cells`);
}

const NULL_CELL = '<NULL>';

interface LinkItem {
  attr: string;
  value: Scalar;
  text: string;
}

interface Mapped {
  /** the errors found while reading the cells, in column order */
  errors: string[];
  /** per slot; undefined: leave as it is */
  values: (Scalar | undefined)[];
  /** per reference group: the sub-values, null for an empty reference, undefined to leave it */
  refTuples: (Scalar[] | null | undefined)[];
  /** per link column: the items, undefined to leave the set as it is */
  linkItems: (LinkItem[] | undefined)[];
  id: number | null;
  source: string | null;
  sourceId: string | null;
}

function mapRecord(plan: Plan, cells: string[]): Mapped {
  const m: Mapped = {
    errors: [],
    values: new Array<Scalar | undefined>(plan.slots.length),
    refTuples: new Array<Scalar[] | null | undefined>(plan.refs.length),
    linkItems: new Array<LinkItem[] | undefined>(plan.links.length),
    id: null,
    source: null,
    sourceId: null,
  };
  if (cells.length !== plan.header.length) {
    m.errors.push(`the row has ${cells.length} field${cells.length === 1 ? '' : 's'}, the header has ${plan.header.length}`);
    return m;
  }
  const fail = (col: number, msg: string): void => {
    m.errors.push(`column ${quoted(plan.header[col] as string)}: ${msg}`);
  };
  plan.cols.forEach((col, c) => {
    const cell = cells[c] as string;
    switch (col.kind) {
      case 'scalar': {
        if (cell === '') m.values[col.slot] = plan.ignoreEmpty ? undefined : emptyValue(col.attr.type);
        else if (cell === NULL_CELL) m.values[col.slot] = null;
        else {
          const r = castCell(col.attr.type, cell);
          if (r.ok) m.values[col.slot] = r.value;
          else fail(c, r.message);
        }
        break;
      }
      case 'links':
        m.linkItems[col.link] = linkItems(plan.links[col.link] as LinkCol, cell, plan.ignoreEmpty, (msg) => fail(c, msg));
        break;
      case 'id':
        if (cell !== '' && cell !== NULL_CELL) {
          const r = castCell('id', cell);
          if (r.ok && typeof r.value === 'number' && r.value > 0) m.id = r.value;
          else fail(c, `${quoted(cell)} is not an object id (a positive integer)`);
        }
        break;
      case 'source':
        m.source = cell === '' || cell === NULL_CELL ? null : cell;
        break;
      case 'source_id':
        m.sourceId = cell === '' || cell === NULL_CELL ? null : cell;
        break;
      case 'ref':
        break;
    }
  });
  // A reference is read from all its columns together, after the other cells.
  plan.refs.forEach((g, gi) => {
    const groupCells = g.columns.map((c) => cells[c] as string);
    if (groupCells.every((c) => c === '' || c === NULL_CELL)) {
      m.refTuples[gi] = groupCells.includes(NULL_CELL) || !plan.ignoreEmpty ? null : undefined;
      return;
    }
    const tuple: Scalar[] = [];
    let ok = true;
    g.subs.forEach((sub, k) => {
      const cell = groupCells[k] as string;
      const type = sub === 'id' ? 'id' : (g.target.byCode.get(sub) as RAttr).type;
      if (cell === '' || cell === NULL_CELL) {
        tuple.push(cell === NULL_CELL ? null : emptyValue(type));
        return;
      }
      const r = castCell(type, cell);
      if (r.ok) tuple.push(r.value);
      else {
        ok = false;
        fail(g.columns[k] as number, r.message);
      }
    });
    if (ok) m.refTuples[gi] = tuple;
  });
  return m;
}

const ITEM = /^(.+?)->(.+?):(.*)$/s;

/** A link cell's items: `|` or line breaks between them, each a bare value or `key->attr:value`. */
function linkItems(link: LinkCol, cell: string, ignoreEmpty: boolean, fail: (msg: string) => void): LinkItem[] | undefined {
  if (cell === '') return ignoreEmpty ? undefined : [];
  if (cell === NULL_CELL) return [];
  const items: LinkItem[] = [];
  for (const raw of cell.split(/\r\n|[|\n\r]/)) {
    const text = raw.trim();
    if (text === '') continue;
    let attr: string;
    let type: AttrType | 'id';
    let value = text;
    const m = ITEM.exec(text);
    if (m) {
      const key = (m[1] as string).trim();
      if (key.toLowerCase() !== (link.attr.itemKey as string).toLowerCase() && key.toLowerCase() !== link.target.name.toLowerCase()) {
        fail(`item ${quoted(text)}: ${quoted(key)} is not the item key of ${link.attr.label} (write ${link.attr.itemKey}->attribute:value or just the value)`);
        continue;
      }
      const name = (m[2] as string).trim();
      const a = name.toLowerCase() === 'id' ? null : findAttribute(link.target, name);
      if (a === undefined || (a !== null && (a.type === 'links' || a.type === 'password'))) {
        const valid = link.target.attrs.filter((x) => x.type !== 'links' && x.type !== 'password').map((x) => x.code).join(', ');
        fail(`item ${quoted(text)}: ${link.target.name} has no attribute ${quoted(name)} to identify an item (valid: ${valid})`);
        continue;
      }
      attr = a === null ? 'id' : a.code;
      type = a === null ? 'id' : a.type;
      value = (m[3] as string).trim();
    } else {
      attr = link.itemAttr;
      type = attr === 'id' ? 'id' : (link.target.byCode.get(attr) as RAttr).type;
    }
    const r = castCell(type, value);
    if (!r.ok) {
      fail(`item ${quoted(text)}: ${r.message}`);
      continue;
    }
    items.push({ attr, value: r.value, text });
  }
  return items;
}

// ------------------------------------------------------------------------- lookups

/** A reference resolved in a state: the id, or the row error. */
function resolveRef(state: State, plan: Plan, g: RefGroup, tuple: Scalar[]): { id: number } | { error: string } {
  const found = matching(state, g.target.name, g.subs, tuple);
  if (found.length === 1) return { id: (found[0] as RObject).id };
  const col = g.columns.map((c) => quoted(plan.header[c] as string)).join(' + ');
  const value = tuple.map((v) => (v === null ? '<NULL>' : quoted(String(v)))).join(' + ');
  if (found.length > 1) return { error: `column ${col}: ambiguous: ${found.length} ${g.target.name} objects match ${value}` };
  const s = sample(state, g.target.name, g.subs[0] as string);
  const existing = s.length > 0 ? `; existing values: ${s.join(', ')}` : `; there are no ${g.target.name} objects yet`;
  return { error: `column ${col}: no ${g.target.name} matches ${value}${existing}` };
}

/**
 * A link cell resolved in a state: the member ids, or the errors of its items. `lookIn` is
 * where items are looked up, `sampleFrom` where an unknown item's message finds existing values.
 */
function resolveLinks(lookIn: State, sampleFrom: State, plan: Plan, l: LinkCol, items: LinkItem[]): { ids: number[] } | { error: string } {
  const ids = new Set<number>();
  const errors: string[] = [];
  const col = quoted(plan.header[l.column] as string);
  for (const it of items) {
    const found = matching(lookIn, l.target.name, [it.attr], [it.value]);
    if (found.length === 1) ids.add((found[0] as RObject).id);
    else if (found.length === 0) {
      const s = sample(sampleFrom, l.target.name, it.attr);
      errors.push(`column ${col}: unknown item ${quoted(it.text)} (no ${l.target.name} with ${it.attr} ${quoted(String(it.value))}${s.length ? `; existing: ${s.map(quoted).join(', ')}` : ''})`);
    } else errors.push(`column ${col}: item ${quoted(it.text)} is ambiguous: ${found.length} ${l.target.name} objects match`);
  }
  return errors.length > 0 ? { error: errors.join('; ') } : { ids: [...ids].sort((a, b) => a - b) };
}

function emptyClassState(state: State, cls: string): State {
  const objects = new Map(state.objects);
  objects.set(cls, new Map());
  return { objects, seq: state.seq };
}

// ------------------------------------------------------------------------- rows

interface RowResult {
  report: RowReport;
  facts: RowFacts;
}

/** The committed states a run's workers may have read: the run's start and each chunk commit so far. */
interface Visible {
  states: State[];
  /** the imported class held no object when the run started: workers then answer its lookups "no match" */
  startEmpty: boolean;
}

class Reference {
  state: State;
  /** hashings so far: tells a password written again from one left as it was */
  private writes = 0;

  constructor(readonly classes: Map<string, RClass>) {
    const objects = new Map<string, Map<number, RObject>>();
    for (const c of classes.keys()) objects.set(c, new Map());
    this.state = { objects, seq: new Map() };
  }

  private hash(plain: string): Hashed {
    return { plain, write: ++this.writes };
  }

  run(spec: RunSpec): ReferenceRun {
    let plan: Plan;
    try {
      plan = buildPlan(this.classes, spec);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      // Nothing read, nothing written.
      return { exitCode: 2, usage: e.message, rows: [], counts: emptyCounts(), rolledBack: null, lastCommittedLine: null, dataLines: 0, snapshot: this.snapshot(), plan: null, facts: [] };
    }
    const start = cloneState(this.state);
    const visible: Visible = { states: [start], startEmpty: (start.objects.get(plan.cls.name) as Map<number, RObject>).size === 0 };
    const chunked = spec.chunkSize > 0 && !spec.simulate;
    let committed = start;
    let committedCounts = emptyCounts();
    let lastCommittedLine: number | null = chunked ? 0 : null;
    const counts = emptyCounts();
    const rows: RowReport[] = [];
    const facts: RowFacts[] = [];
    let rowsInTx = 0;
    let stoppedWarned: boolean | null = null;
    for (let k = 1; k < spec.lines.length; k++) {
      const text = spec.lines[k] as string;
      // Blank lines are not records; the next record's line number counts them all the same.
      if (text.trim() === '') continue;
      const r = this.applyRow(plan, splitRecord(text), k + 1, text, visible);
      rows.push(r.report);
      facts.push(r.facts);
      counts[r.report.status === 'error' ? 'errors' : r.report.status]++;
      if (r.report.warnings) counts.warnings++;
      if (r.report.status === 'error' && spec.stopOnError) {
        stoppedWarned = r.report.warnings !== undefined;
        break;
      }
      rowsInTx++;
      if (chunked && rowsInTx >= spec.chunkSize) {
        committed = cloneState(this.state);
        visible.states.push(committed);
        committedCounts = { ...counts };
        lastCommittedLine = r.report.line;
        rowsInTx = 0;
      }
    }
    let exitCode: number;
    let kept = counts;
    let rolledBack: Counts | null = null;
    if (stoppedWarned !== null) {
      // The first error stops the run: the committed chunks stay, the rest is rolled back. The
      // report counts what the run kept (the committed chunks and the row that stopped it), the
      // rows rolled back apart (README, "Transactions").
      this.state = committed;
      kept = { ...committedCounts, errors: committedCounts.errors + 1, warnings: committedCounts.warnings + (stoppedWarned ? 1 : 0) };
      rolledBack = emptyCounts();
      for (const key of Object.keys(rolledBack) as (keyof Counts)[]) rolledBack[key] = counts[key] - kept[key];
      exitCode = 3;
    } else {
      // SPEC is silent on --simulate with --chunk-size: nothing commits, as with the engine.
      if (spec.simulate) this.state = start;
      exitCode = counts.errors > 0 ? 1 : 0;
    }
    const planFacts: PlanFacts = {
      keys: plan.keys,
      selfRef: plan.refs.some((g) => g.target === plan.cls),
      selfLink: plan.links.some((l) => l.target === plan.cls),
    };
    return { exitCode, usage: null, rows, counts: kept, rolledBack, lastCommittedLine, dataLines: rows.length, snapshot: this.snapshot(), plan: planFacts, facts };
  }

  private applyRow(plan: Plan, cells: string[], line: number, record: string, visible: Visible): RowResult {
    const facts: RowFacts = { line, record, matchBy: 'none', ambiguousKeys: false, staleSelfRef: false, staleSelfLink: false, nullPasswordOnNull: false, workersMissSelfKey: false };
    let warnings: string[] | undefined;
    const done = (status: RowStatus, id: number | null, extra: { changed?: string[]; message?: string } = {}): RowResult => ({
      report: { line, status, id: status === 'error' ? null : id, changed: extra.changed, message: extra.message, warnings },
      facts,
    });
    const error = (message: string): RowResult => done('error', null, { message });
    const cls = plan.cls;
    const m = mapRecord(plan, cells);
    if (m.errors.length > 0) return error(m.errors.join('; '));

    // References into other classes: the first one that does not resolve is the row's error.
    for (let gi = 0; gi < plan.refs.length; gi++) {
      const g = plan.refs[gi] as RefGroup;
      const t = m.refTuples[gi];
      if (t === undefined || t === null) {
        m.values[g.slot] = t === null ? null : undefined;
        continue;
      }
      if (g.target === cls) continue;
      const r = resolveRef(this.state, plan, g, t);
      if ('error' in r) return error(r.error);
      m.values[g.slot] = r.id;
    }

    // Link sets, in column order: a column with unknown or ambiguous items is the row's error.
    const links: (number[] | undefined)[] = [];
    for (let li = 0; li < plan.links.length; li++) {
      const l = plan.links[li] as LinkCol;
      const items = m.linkItems[li];
      if (items === undefined) {
        links.push(undefined);
        continue;
      }
      const now = resolveLinks(this.state, this.state, plan, l, items);
      if (l.target === cls) facts.staleSelfLink ||= this.staleLinks(plan, l, items, now, visible);
      if ('error' in now) return error(now.error);
      links.push(now.ids);
    }

    const matchBy: MatchKind = m.id !== null ? 'id' : m.source !== null && m.sourceId !== null ? 'source' : plan.keys.length > 0 ? 'keys' : 'none';
    facts.matchBy = matchBy;
    const keyTuple = (): Scalar[] =>
      plan.keys.map((k) => {
        const slot = plan.slots.findIndex((s) => s.code === k);
        const v = m.values[slot];
        return v === undefined ? emptyValue((cls.byCode.get(k) as RAttr).type) : v;
      });
    // References into the imported class itself, resolved as the row is applied: they see the rows before it.
    let selfError: string | null = null;
    const unresolved = new Set<number>();
    for (const [gi, g] of plan.refs.entries()) {
      const t = m.refTuples[gi];
      if (g.target !== cls || !t) continue;
      const seen = visible.states.map((s) => (visible.startEmpty ? { error: '' } : resolveRef(s, plan, g, t)));
      if (plan.keys.includes(g.attr.code)) facts.workersMissSelfKey ||= seen.some((w) => 'error' in w);
      if (selfError !== null) continue;
      const r = resolveRef(this.state, plan, g, t);
      // A reference that does not resolve now is re-resolved by the writer whatever the workers saw.
      const id = 'id' in r ? r.id : null;
      facts.staleSelfRef ||= id !== null && seen.some((w) => ('id' in w ? w.id : null) !== id);
      if ('error' in r) {
        selfError = r.error;
        unresolved.add(g.slot);
      } else m.values[g.slot] = r.id;
    }
    if (matchBy === 'keys') {
      // A key given by a reference that does not resolve is not an empty key: the row is in error.
      const t = keyTuple();
      const empty = plan.keyLabels.filter((_, k) => (t[k] === null || t[k] === '') && !unresolved.has(plan.slots.findIndex((s) => s.code === plan.keys[k])));
      if (empty.length > 0) warnings = [`empty reconciliation key ${empty.join(', ')} matches objects where it is empty`];
    }
    if (selfError !== null) return error(selfError);

    let found: RObject[];
    if (matchBy === 'id') found = matching(this.state, cls.name, ['id'], [m.id]);
    else if (matchBy === 'source') found = matching(this.state, cls.name, ['source', 'source_id'], [m.source, m.sourceId]);
    else if (matchBy === 'keys') found = matching(this.state, cls.name, plan.keys, keyTuple());
    else found = [];
    if (found.length > 1) {
      facts.ambiguousKeys = matchBy === 'keys';
      return error(`ambiguous reconciliation: ${found.length} objects match${matchBy === 'keys' ? ` on ${plan.keyLabels.join(', ')}` : ''}`);
    }
    const action = plan.action;
    const target = found[0];
    if (target === undefined) {
      if (matchBy === 'id') return error(`no ${cls.name} with id ${m.id}`);
      if (action === 'update' || action === 'delete') return done('skipped', null, { message: `no matching ${cls.name} to ${action}` });
      return this.create(plan, m, links, done, error);
    }
    if (action === 'insert') return done('skipped', target.id, { message: `${cls.name} ${target.id} already exists (--action insert)` });
    if (action === 'delete') return this.remove(cls, target, done, error);
    return this.update(plan, m, links, target, facts, done, error);
  }

  /** Whether a link cell into the imported class resolves otherwise in a committed state the workers may have read. */
  private staleLinks(plan: Plan, l: LinkCol, items: LinkItem[], now: { ids: number[] } | { error: string }, visible: Visible): boolean {
    const key = JSON.stringify(now);
    return visible.states.some((s) => JSON.stringify(resolveLinks(visible.startEmpty ? emptyClassState(s, plan.cls.name) : s, s, plan, l, items)) !== key);
  }

  private create(
    plan: Plan,
    m: Mapped,
    links: (number[] | undefined)[],
    done: (status: RowStatus, id: number | null) => RowResult,
    error: (message: string) => RowResult,
  ): RowResult {
    const cls = plan.cls;
    const values = new Map<string, Value>();
    const missing: string[] = [];
    for (const a of cls.attrs) {
      if (a.type === 'links') continue;
      const slot = plan.slots.indexOf(a);
      let v: Scalar | undefined = slot >= 0 ? m.values[slot] : undefined;
      // An attribute the row leaves alone takes its default; without one, an empty value.
      if (v === undefined) v = a.dflt === undefined || a.dflt === null ? emptyValue(a.type) : typeof a.dflt === 'boolean' ? (a.dflt ? 1 : 0) : a.dflt;
      if ((v === null || v === '') && a.mandatory) missing.push(describe(a));
      values.set(a.code, a.type === 'password' && typeof v === 'string' && v !== '' ? this.hash(v) : v);
    }
    for (const a of cls.attrs) {
      if (a.type !== 'links' || !a.mandatory) continue;
      const li = plan.links.findIndex((l) => l.attr === a);
      if (li < 0 || (links[li]?.length ?? 0) === 0) missing.push(describe(a));
    }
    if (missing.length > 0) return error(`missing mandatory ${missing.join(', ')}`);
    const taken = this.uniqueTaken(cls, values, null);
    if (taken) return error(taken);
    const id = (this.state.seq.get(cls.name) ?? 0) + 1;
    this.state.seq.set(cls.name, id);
    const linkValues = new Map<string, number[]>();
    plan.links.forEach((l, li) => {
      const ids = links[li];
      if (ids && ids.length > 0) linkValues.set(l.attr.code, ids);
    });
    (this.state.objects.get(cls.name) as Map<number, RObject>).set(id, { id, source: m.source, sourceId: m.sourceId, values, links: linkValues });
    return done('created', id);
  }

  private update(
    plan: Plan,
    m: Mapped,
    links: (number[] | undefined)[],
    o: RObject,
    facts: RowFacts,
    done: (status: RowStatus, id: number | null, extra?: { changed?: string[]; message?: string }) => RowResult,
    error: (message: string) => RowResult,
  ): RowResult {
    const cls = plan.cls;
    const next = new Map<string, Value>();
    const changed: string[] = [];
    const missing: string[] = [];
    plan.slots.forEach((a, s) => {
      const v = m.values[s];
      if (v === undefined) return;
      const old = o.values.get(a.code) ?? null;
      if (a.mandatory && (v === null || v === '')) {
        missing.push(describe(a));
        return;
      }
      if (a.type === 'password') {
        // The same password again changes nothing (SPEC is silent; the engine compares it with the
        // stored hash). No password, null or empty, is one state: an empty cell or <NULL> keeps an
        // unset password unset, whichever of the two it holds.
        if ((v === null || v === '') && (old === null || old === '')) {
          if (v === null && old === null) facts.nullPasswordOnNull = true;
          return;
        }
        if (typeof v === 'string' && (isHashed(old) ? old.plain === v : v === '')) return;
        next.set(a.code, typeof v === 'string' && v !== '' ? this.hash(v) : v);
      } else {
        if (v === old) return;
        next.set(a.code, v);
      }
      changed.push(a.code);
    });
    if (missing.length > 0) return error(`mandatory ${missing.join(', ')} cannot be empty`);
    let source = o.source;
    let sourceId = o.sourceId;
    if (m.source !== null && m.source !== o.source) {
      source = m.source;
      changed.push('source');
    }
    if (m.sourceId !== null && m.sourceId !== o.sourceId) {
      sourceId = m.sourceId;
      changed.push('source_id');
    }
    const nextLinks = new Map<string, number[]>();
    plan.links.forEach((l, li) => {
      const ids = links[li];
      if (ids === undefined) return;
      const prev = o.links.get(l.attr.code) ?? [];
      if (prev.length === ids.length && prev.every((x, k) => x === ids[k])) return;
      nextLinks.set(l.attr.code, ids);
      changed.push(l.attr.code);
    });
    if (changed.length === 0) return done('unchanged', o.id);
    // source + source_id are unique together (when both are set). When a row breaks that and a
    // unique attribute at once, the message names the attribute (SPEC is silent; SQLite checks
    // the newest index first, and a class's unique indexes are created after its source index).
    const taken = this.uniqueTaken(cls, next, o);
    if (taken) return error(taken);
    if (source !== null && sourceId !== null && (source !== o.source || sourceId !== o.sourceId)) {
      if (matching(this.state, cls.name, ['source', 'source_id'], [source, sourceId]).some((x) => x !== o)) return error(`source + source_id already used by another ${cls.name}`);
    }
    for (const [k, v] of next) o.values.set(k, v);
    o.source = source;
    o.sourceId = sourceId;
    for (const [k, v] of nextLinks) {
      if (v.length > 0) o.links.set(k, v);
      else o.links.delete(k);
    }
    return done('updated', o.id, { changed });
  }

  /** The message for a value of a unique attribute that another object holds (an empty or null value is never taken). */
  private uniqueTaken(cls: RClass, values: Map<string, Value>, self: RObject | null): string | null {
    for (const a of [...cls.attrs].reverse()) {
      const v = values.get(a.code);
      if (!a.unique || v === undefined || v === null || isHashed(v) || (v === '' && emptyValue(a.type) === '')) continue;
      if (matching(this.state, cls.name, [a.code], [v]).some((x) => x !== self)) return `${a.code} must be unique: the value is already used by another ${cls.name}`;
    }
    return null;
  }

  private remove(cls: RClass, o: RObject, done: (status: RowStatus, id: number | null) => RowResult, error: (message: string) => RowResult): RowResult {
    // Whatever still refers to the object keeps it, except the object itself (its own parent, its own link).
    const users: string[] = [];
    for (const other of this.classes.values()) {
      for (const a of other.attrs) {
        if (a.target !== cls.name || (a.type !== 'ref' && a.type !== 'links')) continue;
        const ids: number[] = [];
        for (const x of (this.state.objects.get(other.name) as Map<number, RObject>).values()) {
          if (other === cls && x.id === o.id) continue;
          if (a.type === 'ref' ? x.values.get(a.code) === o.id : (x.links.get(a.code) ?? []).includes(o.id)) ids.push(x.id);
        }
        ids.sort((p, q) => p - q);
        if (ids.length > 0) users.push(`${other.name}.${a.code} of ${ids.slice(0, 3).join(', ')}${ids.length >= 3 ? '…' : ''}`);
      }
    }
    if (users.length > 0) return error(`cannot delete ${cls.name} ${o.id}: still referenced by ${users.join('; ')}`);
    (this.state.objects.get(cls.name) as Map<number, RObject>).delete(o.id);
    return done('deleted', o.id);
  }

  /** The database as the comparison reads it (check.ts): each class's objects in id order, and the last id given. */
  snapshot(): DbSnapshot {
    const out: DbSnapshot = {};
    for (const cls of this.classes.values()) {
      const objects: DbObject[] = [];
      for (const o of (this.state.objects.get(cls.name) as Map<number, RObject>).values()) {
        const values: Record<string, Scalar> = {};
        const links: Record<string, number[]> = {};
        for (const a of cls.attrs) {
          if (a.type === 'links') links[a.code] = [...(o.links.get(a.code) ?? [])];
          else {
            const v = o.values.get(a.code) ?? null;
            values[a.code] = isHashed(v) ? `hash#${v.write}` : v;
          }
        }
        objects.push({ id: o.id, source: o.source, source_id: o.sourceId, values, links });
      }
      objects.sort((a, b) => a.id - b.id);
      out[cls.name] = { seq: this.state.seq.get(cls.name) ?? 0, objects };
    }
    return out;
  }
}

/** Apply every run of a case, in order, to a database created with the case's model. */
export function runReference(c: Case): ReferenceRun[] {
  const ref = new Reference(classesOf(c.model));
  return c.runs.map((r) => ref.run(r));
}
