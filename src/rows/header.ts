import { SluiceError, quoted } from '../base/errors.js';
import { findAttribute } from '../model/load.js';
import type { Attribute, ClassDef, Model } from '../model/types.js';
import { type Action, type ColumnSpec, type ImportPlan, type LinkSpec, type RefGroup, SlotPolicy, type SyncSpec } from './plan.js';

export interface PlanOptions {
  keys: string[] | undefined;
  action: Action;
  ignoreEmpty: boolean;
  /** a sync's source; its update policies are given by attribute code */
  sync?: Omit<SyncSpec, 'policy' | 'linkPolicy'> & { updatePolicy: Record<string, 'write-if-empty' | 'ignore' | 'master'> };
  /** a bundle's file: the classes its earlier files wrote (ImportPlan.writtenBefore) */
  writtenBefore?: readonly string[];
}

function headerError(message: string, column?: string): never {
  throw new SluiceError('E_HEADER', message, { line: 1, column });
}

function describeAttrs(cls: ClassDef): string {
  return cls.attributes.map((a) => (a.label.toLowerCase() === a.code.toLowerCase() ? a.code : `${a.code} (${a.label})`)).join(', ');
}

function validColumns(cls: ClassDef): string {
  return `valid columns for ${cls.name}: id, source, source_id, ${describeAttrs(cls)}; references as attr->sub, e.g. ${exampleRef(cls)}`;
}

function exampleRef(cls: ClassDef): string {
  const ref = cls.attributes.find((a) => a.type === 'ref');
  return ref ? `${ref.code}->name` : 'org_id->name';
}

const RESERVED = new Set(['id', 'source', 'source_id']);

/**
 * What one header cell names: a reserved column, a scalar or link-set attribute, or a
 * reference by one attribute of its target (`org_id` alone: by id). An E_HEADER error
 * saying why when it names nothing the class has. `source` is a sync's data source.
 */
export type ColumnTarget =
  | { kind: 'reserved'; name: string; code: 'id' | 'source' | 'source_id' }
  | { kind: 'scalar' | 'links'; name: string; attr: Attribute }
  | { kind: 'ref'; name: string; attr: Attribute; sub: string };

export function resolveColumn(model: Model, cls: ClassDef, raw: string, i: number, source?: string): ColumnTarget {
  const name = raw.trim();
  if (name === '') headerError(`column ${i + 1} has an empty header; every column needs a name (${validColumns(cls)})`, `#${i + 1}`);
  const lower = name.toLowerCase();
  if (RESERVED.has(lower)) {
    if (source !== undefined && lower !== 'source_id') {
      headerError(`column ${i + 1} ${quoted(name)}: a sync feed names each record by its source_id; the source is ${source} and objects are found by it and by the keys, so the feed has no ${lower} column`, name);
    }
    return { kind: 'reserved', name, code: lower as 'id' | 'source' | 'source_id' };
  }
  const arrow = name.indexOf('->');
  if (arrow >= 0) {
    const head = name.slice(0, arrow).trim();
    const tail = name.slice(arrow + 2).trim();
    const attr = findAttribute(cls, head);
    if (!attr) headerError(`unknown column ${quoted(name)}: ${cls.name} has no attribute ${quoted(head)} (${validColumns(cls)})`, name);
    if (attr.type !== 'ref') headerError(`column ${quoted(name)}: ${attr.code} is a ${attr.type}, only references (${refCodes(cls)}) take ->`, name);
    if (tail.includes('->')) headerError(`column ${quoted(name)}: references go one level deep (attr->sub)`, name);
    const target = model.classes.get(attr.target as string) as ClassDef;
    const subAttr = tail.toLowerCase() === 'id' ? 'id' : findAttribute(target, tail)?.code;
    if (subAttr === undefined) headerError(`unknown column ${quoted(name)}: ${target.name} has no attribute ${quoted(tail)} (valid: id, ${describeAttrs(target)})`, name);
    if (subAttr !== 'id') {
      const t = target.byCode.get(subAttr) as Attribute;
      if (t.type === 'links' || t.type === 'password') headerError(`column ${quoted(name)}: ${target.name}.${t.code} is a ${t.type} and cannot identify a reference`, name);
    }
    return { kind: 'ref', name, attr, sub: subAttr };
  }
  const attr = findAttribute(cls, name);
  if (!attr) headerError(`unknown column ${quoted(name)} (${validColumns(cls)})`, name);
  if (attr.type === 'ref') return { kind: 'ref', name, attr, sub: 'id' };
  return { kind: attr.type === 'links' ? 'links' : 'scalar', name, attr };
}

/** Map the header row onto the class: usage errors here stop the run before any data row is read. */
export function buildPlan(model: Model, cls: ClassDef, header: string[], opts: PlanOptions): ImportPlan {
  const columns: ColumnSpec[] = [];
  const slots: string[] = [];
  const refs: RefGroup[] = [];
  const links: LinkSpec[] = [];
  const seen = new Map<string, number>();
  let idColumn = -1;
  let sourceColumn = -1;
  let sourceIdColumn = -1;

  const claim = (target: string, i: number, name: string): void => {
    const prev = seen.get(target);
    if (prev !== undefined) headerError(`column ${i + 1} ${quoted(name)} maps to the same attribute as column ${prev + 1} ${quoted(header[prev] as string)}; each attribute may appear once`, name);
    seen.set(target, i);
  };

  header.forEach((raw, i) => {
    const c = resolveColumn(model, cls, raw, i, opts.sync?.source);
    switch (c.kind) {
      case 'reserved':
        claim(c.code, i, c.name);
        if (c.code === 'id') idColumn = i;
        else if (c.code === 'source') sourceColumn = i;
        else sourceIdColumn = i;
        columns.push({ kind: c.code });
        return;
      case 'ref':
        claim(`${c.attr.code}->${c.sub}`, i, c.name);
        columns.push(refColumn(refs, slots, c.attr, c.sub, i));
        return;
      case 'links': {
        claim(c.attr.code, i, c.name);
        const target = model.classes.get(c.attr.target as string) as ClassDef;
        links.push({
          attr: c.attr.code,
          label: c.attr.label,
          target: target.name,
          linkTable: c.attr.linkTable as string,
          itemKey: c.attr.itemKey as string,
          column: i,
          itemAttr: target.reconciliation[0] ?? (target.byCode.has('name') ? 'name' : 'id'),
        });
        columns.push({ kind: 'links', link: links.length - 1 });
        return;
      }
      case 'scalar':
        claim(c.attr.code, i, c.name);
        slots.push(c.attr.code);
        columns.push({ kind: 'scalar', slot: slots.length - 1 });
        return;
    }
  });

  for (const g of refs) {
    const mixed = g.subs.includes('id') && g.subs.length > 1;
    if (mixed) headerError(`columns ${g.columns.map((c) => quoted(header[c] as string)).join(' and ')} give ${g.attr} both as an id and by attributes; use one or the other`, header[g.columns[0] as number]);
  }

  // A sync of pending replicas when none is pending has no columns: no key to check.
  const { keys, keyLabels } = opts.sync && header.length === 0 ? { keys: [], keyLabels: [] } : chooseKeys(cls, refs, slots, opts.keys);
  if (keys.length === 0 && idColumn < 0 && sourceColumn < 0 && (opts.action === 'update' || opts.action === 'delete')) {
    headerError(`--action ${opts.action} needs a way to find objects: an id column, source + source_id columns, or reconciliation keys (--keys; ${cls.name}'s default is ${cls.reconciliation.join(', ') || 'none'})`);
  }
  // A sync of pending replicas when none is pending has no columns, and no row.
  if (opts.sync && sourceIdColumn < 0 && header.length > 0) {
    headerError(`a sync feed needs a source_id column: each record's key in the source ${opts.sync.source} (${validColumns(cls)})`, 'source_id');
  }
  if (!opts.sync && (sourceColumn < 0) !== (sourceIdColumn < 0)) {
    headerError(`columns source and source_id go together; the file has only ${sourceColumn >= 0 ? 'source' : 'source_id'}`, sourceColumn >= 0 ? 'source' : 'source_id');
  }

  const fetch = new Set<string>(['source', 'source_id']);
  for (const s of slots) fetch.add(s);
  for (const k of keys) fetch.add(k);
  for (const g of refs) if (g.target === cls.name) for (const s of g.subs) if (s !== 'id') fetch.add(s);
  const writtenBefore = (opts.writtenBefore ?? []).filter((c) => c !== cls.name && (refs.some((g) => g.target === c) || links.some((l) => l.target === c)));
  // A delete's history keeps every old value, so it reads them all.
  for (const a of cls.attributes) if (a.type !== 'links' && (a.mandatory || a.unique || opts.action === 'delete')) fetch.add(a.code);

  return {
    className: cls.name,
    header,
    columns,
    slots,
    refs,
    links,
    keys,
    keyLabels,
    fetch: [...fetch],
    idColumn,
    sourceColumn,
    sourceIdColumn,
    action: opts.action,
    ignoreEmpty: opts.ignoreEmpty,
    sync: opts.sync ? syncSpec(opts.sync, slots, links) : null,
    // Only the classes this file refers to matter; a single file's plan has none.
    ...(writtenBefore.length > 0 ? { writtenBefore } : {}),
  };
}

function syncSpec(o: NonNullable<PlanOptions['sync']>, slots: readonly string[], links: readonly LinkSpec[]): SyncSpec {
  const policyOf = (code: string): SlotPolicy => {
    const p = o.updatePolicy[code];
    return p === 'write-if-empty' ? SlotPolicy.WriteIfEmpty : p === 'ignore' ? SlotPolicy.Ignore : SlotPolicy.Master;
  };
  return { source: o.source, ref: o.ref, onZero: o.onZero, onMultiple: o.onMultiple, claim: o.claim, loadOnly: o.loadOnly, policy: slots.map(policyOf), linkPolicy: links.map((l) => policyOf(l.attr)) };
}

function refCodes(cls: ClassDef): string {
  return cls.attributes.filter((a) => a.type === 'ref').map((a) => a.code).join(', ') || 'none';
}

function refColumn(refs: RefGroup[], slots: string[], attr: Attribute, sub: string, column: number): ColumnSpec {
  let group = refs.findIndex((g) => g.attr === attr.code);
  if (group < 0) {
    slots.push(attr.code);
    refs.push({ attr: attr.code, slot: slots.length - 1, target: attr.target as string, subs: [], columns: [] });
    group = refs.length - 1;
  }
  const g = refs[group] as RefGroup;
  g.subs.push(sub);
  g.columns.push(column);
  return { kind: 'refSub', group, sub: g.subs.length - 1 };
}

function chooseKeys(cls: ClassDef, refs: RefGroup[], slots: string[], requested: string[] | undefined): { keys: string[]; keyLabels: string[] } {
  const label = (code: string): string => {
    const g = refs.find((r) => r.attr === code);
    return g ? g.subs.map((s) => `${code}->${s}`).join('+') : code;
  };
  if (requested === undefined) {
    const keys = cls.reconciliation.filter((k) => slots.includes(k));
    return { keys, keyLabels: keys.map(label) };
  }
  const keys: string[] = [];
  for (const raw of requested) {
    const name = raw.trim();
    const head = name.includes('->') ? name.slice(0, name.indexOf('->')).trim() : name;
    const attr = findAttribute(cls, head);
    if (!attr) throw new SluiceError('E_USAGE', `unknown key ${quoted(name)} for --keys: ${cls.name} has no such attribute (${describeAttrs(cls)})`, { option: '--keys' });
    if (attr.type === 'links' || attr.type === 'password') throw new SluiceError('E_USAGE', `--keys ${quoted(name)}: a ${attr.type} attribute cannot be a reconciliation key`, { option: '--keys' });
    if (!slots.includes(attr.code)) {
      throw new SluiceError('E_USAGE', `--keys ${quoted(name)}: the file has no column for ${attr.code} (${attr.label}); a key must be one of the file's columns (${slots.join(', ') || 'none'})`, { option: '--keys' });
    }
    if (!keys.includes(attr.code)) keys.push(attr.code);
  }
  return { keys, keyLabels: keys.map(label) };
}
