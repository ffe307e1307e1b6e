/**
 * fast-check generators of differential-test cases: a small model (an organization class,
 * a person class with a reference to it, maybe a reference to itself, a link set and a
 * password, maybe a team class referring to persons) and 1–4 import runs into it.
 *
 * fast-check draws plain numbers (a "shape"), which `interpret` turns into a case; shrinking
 * works on the numbers, towards fewer runs, rows and columns and the first value of each
 * pool, so a failing case shrinks to a short, readable one. Values come from tiny pools so
 * that keys collide (ambiguous reconciliation), references hit, and rows repeat.
 */
import fc from 'fast-check';
import type { AttributeFile, ClassFile, ModelFile } from '../../src/model/types.js';
import type { Action, Case, RunSpec } from './case.js';

/** Values each attribute draws from; a cell also may be empty or <NULL> (and an integer cell invalid). */
const POOLS: Record<string, readonly string[]> = {
  'Org.name': ['Demo', 'IT', 'Ops'],
  'Org.code': ['D', 'I'],
  'Person.name': ['Ann', 'Bob', 'Cy'],
  'Person.email': ['a@x', 'b@x', 'c@x', 'd@x'],
  'Person.age': ['1', '2', '7'],
  'Person.pw': ['p1', 'p2'],
  'Team.name': ['T1', 'T2'],
  id: ['1', '2', '3', '4', '5', '6'],
  source: ['crm', 'ad'],
  source_id: ['1', '2', '3'],
};

/** The objects a case may start with: organizations to refer to (two share a code)... */
const ORG_FIXTURE: RunSpec = {
  className: 'Org',
  lines: ['name,code', 'Demo,D', 'IT,I', 'Ops,D'],
  action: 'upsert',
  ignoreEmpty: false,
  stopOnError: true,
  chunkSize: 0,
  simulate: false,
};

/** ...and persons (two share a name; three have a manager created before them). */
function personFixture(s: ModelShape): RunSpec {
  const org = s.orgFixture ? [',org_id->name', ',Demo', ',IT', ',', ',Ops'] : ['', '', '', '', ''];
  const manager = s.selfRef ? [',manager_id->email', ',', ',a@x', ',a@x', ',b@x'] : ['', '', '', '', ''];
  const rows = ['name,email,age', 'Ann,a@x,1', 'Bob,b@x,2', 'Cy,c@x,7', 'Ann,d@x,2'];
  return {
    className: 'Person',
    lines: rows.map((r, k) => `${r}${org[k] as string}${manager[k] as string}`),
    keys: ['email'],
    action: 'upsert',
    ignoreEmpty: false,
    stopOnError: false,
    chunkSize: 0,
    simulate: false,
  };
}

export interface ModelShape {
  /** Person.reconciliation: none, email, name, name + email, age */
  personKeys: number;
  nameMandatory: boolean;
  /** Person.manager_id, a reference to Person */
  selfRef: boolean;
  /** Person's link set: none, friends (Person), orgs (Org) */
  links: number;
  password: boolean;
  /** Person.age defaults to 7 */
  ageDefault: boolean;
  /** Person.email is unique */
  uniqueEmail: boolean;
  /** Person.name has the label "Last Name", which headers use */
  labels: boolean;
  /** a Team class: name, lead_id (Person), members (Person links) */
  team: boolean;
  /** Org.reconciliation: name, code */
  orgKeys: number;
  /** start with three organizations */
  orgFixture: boolean;
  /** then with four persons */
  personFixture: boolean;
}

export function modelOf(s: ModelShape): ModelFile {
  const person: Record<string, AttributeFile> = {
    name: { type: 'string', ...(s.labels ? { label: 'Last Name' } : {}), ...(s.nameMandatory ? { mandatory: true } : {}) },
    email: { type: 'string', ...(s.uniqueEmail ? { unique: true } : {}) },
    age: { type: 'integer', ...(s.ageDefault ? { default: 7 } : {}) },
    org_id: { type: 'ref', class: 'Org' },
  };
  if (s.selfRef) person.manager_id = { type: 'ref', class: 'Person' };
  if (s.links === 1) person.friends = { type: 'links', class: 'Person' };
  if (s.links === 2) person.orgs = { type: 'links', class: 'Org' };
  if (s.password) person.pw = { type: 'password' };
  const classes: Record<string, ClassFile> = {
    Org: { attributes: { name: { type: 'string' }, code: { type: 'string' } }, reconciliation: [s.orgKeys === 0 ? 'name' : 'code'] },
    Person: { attributes: person, reconciliation: [[], ['email'], ['name'], ['name', 'email'], ['age']][s.personKeys] as string[] },
  };
  if (s.team) {
    classes.Team = {
      attributes: { name: { type: 'string', mandatory: true }, lead_id: { type: 'ref', class: 'Person' }, members: { type: 'links', class: 'Person' } },
      reconciliation: ['name'],
    };
  }
  return { classes };
}

/** A column a header may have, and how its cells are drawn. */
interface Candidate {
  header: string;
  /** an attribute that --keys may name */
  key?: string;
  /** the reference attribute it belongs to (the plain form and the attr->sub forms exclude each other) */
  ref?: string;
  plain?: boolean;
  cell: (n: number) => string;
}

/** A cell from a pool: most draws are values, a few empty, <NULL> or (integers) not a number. */
function pooled(pool: readonly string[], integer = false): (n: number) => string {
  const specials = integer ? ['', '<NULL>', 'x'] : ['', '<NULL>', ''];
  return (n) => (n % 16 < 12 ? (pool[n % pool.length] as string) : (specials[(n % 16) - 12] ?? ''));
}

/** Mostly empty (so that keys and sources do the matching), else a value. */
function sparse(pool: readonly string[]): (n: number) => string {
  return (n) => (n % 16 < 10 ? '' : (pool[(n % 16) - 10] ?? (pool[0] as string)));
}

/** A link cell: empty, <NULL>, or one or two items, some in iTop's key->attr:value form. */
function linkCell(pool: readonly string[], itemKey: string, attr: string): (n: number) => string {
  return (n) => {
    const kind = n % 8;
    if (kind === 6) return '';
    if (kind === 7) return '<NULL>';
    const item = (k: number): string => {
      const v = pool[k % pool.length] as string;
      return (n >> 5) % 3 === 2 ? `${itemKey}->${attr}:${v}` : v;
    };
    return kind < 3 ? item(n >> 3) : `${item(n >> 3)}|${item((n >> 3) + 1 + kind)}`;
  };
}

function poolOf(cls: string, attr: string): readonly string[] {
  return POOLS[`${cls}.${attr}`] ?? (attr === 'id' ? (POOLS.id as readonly string[]) : ['v']);
}

function candidatesOf(model: ModelFile, cls: string): Candidate[] {
  const c = model.classes[cls] as ClassFile;
  const out: Candidate[] = [
    { header: 'id', cell: sparse(POOLS.id as readonly string[]) },
    { header: 'source', cell: pooled(POOLS.source as readonly string[]) },
    { header: 'source_id', cell: pooled(POOLS.source_id as readonly string[]) },
  ];
  for (const [code, a] of Object.entries(c.attributes)) {
    if (a.type === 'ref') {
      const target = model.classes[a.class as string] as ClassFile;
      const subs = Object.entries(target.attributes).filter(([, t]) => t.type === 'string');
      for (const [sub] of subs.slice(0, 2)) out.push({ header: `${code}->${sub}`, ref: code, key: code, cell: pooled(poolOf(a.class as string, sub)) });
      out.push({ header: code, ref: code, plain: true, key: code, cell: sparse(['1', '2', '3', '9']) });
    } else if (a.type === 'links') {
      const target = model.classes[a.class as string] as ClassFile;
      const itemAttr = target.reconciliation?.[0] ?? 'name';
      out.push({ header: code, cell: linkCell(poolOf(a.class as string, itemAttr), `${(a.class as string).toLowerCase()}_id`, itemAttr) });
    } else if (a.type === 'password') out.push({ header: code, cell: pooled(poolOf(cls, code)) });
    else out.push({ header: a.label ?? code, key: code, cell: pooled(poolOf(cls, code), a.type === 'integer') });
  }
  return out;
}

export interface RunShape {
  /** 0–6 Person, 7 Org, 8–9 Team (Person when there is none) */
  target: number;
  /** candidate columns, in header order (indices wrap around) */
  columns: number[];
  /** the header also names the class's mandatory attributes (unless they are left out on purpose) */
  complete: boolean;
  /** 0–3: the default keys; else one or two of the key columns */
  keys: number;
  /** 0–7 upsert, 8 insert, 9 update, 10–11 delete */
  action: number;
  ignoreEmpty: boolean;
  stopOnError: boolean;
  /** 0–2: none, else 1, 2, 3 */
  chunk: number;
  simulate: boolean;
  /** 0–3: a new file; 4: the previous run again, identical; 5: the previous run's header and options, new rows; 6: the run before the previous one again */
  base: number;
  /** each row: `dup` above 6 copies an earlier row (of this run or its base), else `cells` pick the values */
  rows: { dup: number; cells: number[] }[];
}

export interface CaseShape {
  model: ModelShape;
  runs: RunShape[];
}

const MAX_COLUMNS = 16;

const modelShapeArb: fc.Arbitrary<ModelShape> = fc.record({
  personKeys: fc.nat(4),
  nameMandatory: fc.nat(2).map((n) => n === 1),
  selfRef: fc.nat(3).map((n) => n !== 1),
  links: fc.nat(2),
  password: fc.nat(3).map((n) => n === 1),
  ageDefault: fc.nat(4).map((n) => n === 1),
  uniqueEmail: fc.nat(3).map((n) => n === 1),
  labels: fc.nat(3).map((n) => n === 1),
  team: fc.nat(3).map((n) => n === 1),
  orgKeys: fc.nat(1),
  orgFixture: fc.nat(3).map((n) => n !== 1),
  personFixture: fc.nat(2).map((n) => n !== 1),
});

const runShapeArb: fc.Arbitrary<RunShape> = fc.record({
  target: fc.nat(9),
  columns: fc.uniqueArray(fc.nat(MAX_COLUMNS - 1), { minLength: 1, maxLength: 8 }),
  complete: fc.nat(3).map((n) => n !== 1),
  keys: fc.nat(7),
  action: fc.nat(11),
  ignoreEmpty: fc.nat(5).map((n) => n === 1),
  stopOnError: fc.boolean(),
  chunk: fc.nat(5),
  simulate: fc.nat(9).map((n) => n === 1),
  base: fc.nat(6),
  rows: fc.array(fc.record({ dup: fc.nat(9), cells: fc.array(fc.nat(63), { minLength: MAX_COLUMNS, maxLength: MAX_COLUMNS }) }), { maxLength: 12 }),
});

export const caseShapeArb: fc.Arbitrary<CaseShape> = fc.record({
  model: modelShapeArb,
  runs: fc.array(runShapeArb, { minLength: 1, maxLength: 4 }),
});

const ACTIONS: readonly Action[] = ['upsert', 'upsert', 'upsert', 'upsert', 'upsert', 'upsert', 'upsert', 'upsert', 'insert', 'update', 'delete', 'delete'];

function header(model: ModelFile, cls: string, shape: RunShape, action: Action): Candidate[] {
  const all = candidatesOf(model, cls);
  // A delete names the objects to delete: ids, sources, keys.
  const usable = action === 'delete' ? all.filter((c) => c.key !== undefined || ['id', 'source', 'source_id'].includes(c.header)) : all;
  const chosen: Candidate[] = [];
  for (const p of shape.columns) {
    const c = usable[p % usable.length] as Candidate;
    if (chosen.includes(c)) continue;
    // A reference is given by its id or by attributes of its target, not both.
    if (c.ref !== undefined && chosen.some((x) => x.ref === c.ref && (x.plain === true || c.plain === true))) continue;
    chosen.push(c);
  }
  // source and source_id go together.
  const has = (h: string): boolean => chosen.some((x) => x.header === h);
  if (has('source') !== has('source_id')) chosen.push(all.find((x) => x.header === (has('source') ? 'source_id' : 'source')) as Candidate);
  if (shape.complete && action !== 'delete') {
    for (const [code, a] of Object.entries((model.classes[cls] as ClassFile).attributes)) if (a.mandatory && !chosen.some((x) => x.key === code)) chosen.push(all.find((x) => x.key === code) as Candidate);
  }
  return chosen;
}

function runOf(model: ModelFile, shape: RunShape, before: readonly RunSpec[]): RunSpec {
  const previous = before[before.length - 1];
  const again = shape.base === 4 ? previous : shape.base === 6 ? before[before.length - 2] : undefined;
  if (again) return { ...again, lines: [...again.lines] };
  const reuse = shape.base === 5 && previous ? previous : undefined;
  const cls = reuse?.className ?? (shape.target < 7 || (shape.target > 7 && !model.classes.Team) ? 'Person' : shape.target === 7 ? 'Org' : 'Team');
  const all = candidatesOf(model, cls);
  const action = reuse?.action ?? (ACTIONS[shape.action] as Action);
  const columns = reuse ? (reuse.lines[0] ?? '').split(',').map((h) => all.find((c) => c.header === h) ?? all.find((c) => c.key === h && c.ref === undefined) ?? { header: h, cell: () => '' }) : header(model, cls, shape, action);
  let keys: string[] | undefined;
  if (reuse) keys = reuse.keys;
  else if (shape.keys >= 4) {
    const keyed = columns.filter((c) => c.key !== undefined).map((c) => c.key as string);
    const unique = [...new Set(keyed)];
    if (unique.length > 0) {
      const first = unique[shape.keys % unique.length] as string;
      const second = unique[(shape.keys + 1) % unique.length] as string;
      keys = shape.keys % 2 === 0 || second === first ? [first] : [first, second];
    }
  }
  const lines = [columns.map((c) => c.header).join(',')];
  const earlier = reuse ? reuse.lines.slice(1) : [];
  for (const r of shape.rows) {
    const pool = [...earlier, ...lines.slice(1)];
    let line: string;
    if (r.dup > 6 && pool.length > 0) line = pool[pool.length - 1 - ((r.dup - 7) % pool.length)] as string;
    else line = columns.map((c, k) => c.cell(r.cells[k] ?? 0)).join(',');
    // A blank line is no record: a file of one column writes an empty cell as <NULL> instead.
    lines.push(line.trim() === '' ? '<NULL>' : line);
  }
  if (reuse) return { ...reuse, lines };
  return {
    className: cls,
    lines,
    keys,
    action,
    ignoreEmpty: shape.ignoreEmpty,
    stopOnError: shape.stopOnError,
    chunkSize: shape.chunk <= 2 ? 0 : shape.chunk - 2,
    simulate: shape.simulate,
  };
}

/** The case a shape stands for. */
export function interpret(shape: CaseShape): Case {
  const model = modelOf(shape.model);
  const runs: RunSpec[] = shape.model.orgFixture ? [ORG_FIXTURE] : [];
  if (shape.model.personFixture) runs.push(personFixture(shape.model));
  for (const r of shape.runs) runs.push(runOf(model, r, runs));
  return { model, runs };
}

export const caseArb: fc.Arbitrary<Case> = caseShapeArb.map(interpret);
