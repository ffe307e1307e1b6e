/**
 * Which columns an export writes, named so that `sluice import` maps them back onto
 * the same attributes (rows/header.ts is the reader this mirrors). Pure: the model in,
 * a column list out; every problem is a usage error naming --columns.
 */
import { SluiceError, quoted } from '../base/errors.js';
import { findAttribute } from '../model/load.js';
import type { AttrType, Attribute, ClassDef, Model } from '../model/types.js';

export type ExportColumn =
  | { kind: 'reserved'; header: 'id' | 'source' | 'source_id'; type: AttrType }
  /** a stored attribute; a reference written this way holds the referenced id */
  | { kind: 'attr'; header: string; attr: Attribute; type: AttrType }
  /** one attribute of the referenced object (`org_id->name`); `sub` 'id' is its id */
  | { kind: 'refSub'; header: string; attr: Attribute; target: ClassDef; sub: string; type: AttrType }
  | { kind: 'links'; header: string; attr: Attribute; target: ClassDef; itemAttr: string; itemKey: string; type: AttrType };

const OPTION = '--columns';
const RESERVED = ['id', 'source', 'source_id'] as const;

function usage(message: string): never {
  throw new SluiceError('E_USAGE', `${OPTION}: ${message}`, { option: OPTION });
}

function describe(cls: ClassDef): string {
  return cls.attributes
    .filter((a) => a.type !== 'password')
    .map((a) => a.code)
    .join(', ');
}

/** The attribute a bare link item names: the importer's rule (rows/header.ts), so items read back. */
export function linkItemAttr(target: ClassDef): string {
  return target.reconciliation[0] ?? (target.byCode.has('name') ? 'name' : 'id');
}

/**
 * The sub-attributes a reference is written with by default: the target's own
 * reconciliation attributes that are plain values (a reference among them would be
 * written as an id, which another database does not share). Several of them are ANDed
 * on import, which keeps e.g. two managers named Smith apart.
 */
export function defaultRefSubs(target: ClassDef): string[] {
  const subs = target.reconciliation.filter((k) => {
    const t = target.byCode.get(k)?.type;
    return t !== undefined && t !== 'ref' && t !== 'links' && t !== 'password';
  });
  if (subs.length > 0) return subs;
  return [target.byCode.has('name') ? 'name' : 'id'];
}

function subType(target: ClassDef, sub: string): AttrType {
  return sub === 'id' ? 'integer' : (target.byCode.get(sub) as Attribute).type;
}

function refSub(attr: Attribute, target: ClassDef, sub: string): ExportColumn {
  return { kind: 'refSub', header: `${attr.code}->${sub}`, attr, target, sub, type: subType(target, sub) };
}

function linksColumn(model: Model, attr: Attribute): ExportColumn {
  const target = model.classes.get(attr.target as string) as ClassDef;
  return { kind: 'links', header: attr.code, attr, target, itemAttr: linkItemAttr(target), itemKey: attr.itemKey as string, type: 'links' };
}

/**
 * Every attribute except passwords, references by their target's reconciliation
 * attributes, and `source`/`source_id` when `withSource` (the caller knows whether any
 * object has them).
 */
export function defaultColumns(model: Model, cls: ClassDef, withSource: boolean): ExportColumn[] {
  const out: ExportColumn[] = [];
  if (withSource) {
    out.push({ kind: 'reserved', header: 'source', type: 'string' });
    out.push({ kind: 'reserved', header: 'source_id', type: 'string' });
  }
  for (const a of cls.attributes) {
    if (a.type === 'password') continue;
    if (a.type === 'links') out.push(linksColumn(model, a));
    else if (a.type === 'ref') {
      const target = model.classes.get(a.target as string) as ClassDef;
      for (const sub of defaultRefSubs(target)) out.push(refSub(a, target, sub));
    } else out.push({ kind: 'attr', header: a.code, attr: a, type: a.type });
  }
  return out;
}

/** Split a --columns value; the empty list is an error. */
export function splitColumns(value: string): string[] {
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length === 0) usage(`${quoted(value)} names no column (e.g. --columns name,org_id->name)`);
  return names;
}

/** Resolve the requested column names (codes or labels, `attr->sub`, id, source, source_id). */
export function requestedColumns(model: Model, cls: ClassDef, names: readonly string[]): ExportColumn[] {
  const out: ExportColumn[] = [];
  const seen = new Map<string, string>();
  const claim = (key: string, name: string): void => {
    const prev = seen.get(key);
    if (prev !== undefined) usage(`${quoted(name)} names the same column as ${quoted(prev)}; each column may appear once`);
    seen.set(key, name);
  };
  for (const name of names) {
    const lower = name.toLowerCase();
    const reserved = RESERVED.find((r) => r === lower);
    if (reserved !== undefined) {
      claim(reserved, name);
      out.push({ kind: 'reserved', header: reserved, type: reserved === 'id' ? 'integer' : 'string' });
      continue;
    }
    const arrow = name.indexOf('->');
    const head = arrow >= 0 ? name.slice(0, arrow).trim() : name;
    const attr = findAttribute(cls, head);
    if (!attr) usage(`unknown column ${quoted(name)}: ${cls.name} has no attribute ${quoted(head)} (valid: id, source, source_id, ${describe(cls)}; references as attr->sub, e.g. org_id->name)`);
    if (attr.type === 'password') usage(`${quoted(name)} is a password; passwords are stored only as hashes and are never exported`);
    if (arrow < 0) {
      if (attr.type === 'links') {
        claim(attr.code, name);
        out.push(linksColumn(model, attr));
      } else {
        claim(attr.type === 'ref' ? `${attr.code}->id` : attr.code, name);
        out.push({ kind: 'attr', header: attr.code, attr, type: attr.type });
      }
      continue;
    }
    const tail = name.slice(arrow + 2).trim();
    if (attr.type !== 'ref') usage(`${quoted(name)}: ${attr.code} is a ${attr.type}; only references take -> (${refCodes(cls)})`);
    if (tail.includes('->')) usage(`${quoted(name)}: references go one level deep (attr->sub)`);
    const target = model.classes.get(attr.target as string) as ClassDef;
    const sub = tail.toLowerCase() === 'id' ? 'id' : findAttribute(target, tail)?.code;
    if (sub === undefined) usage(`unknown column ${quoted(name)}: ${target.name} has no attribute ${quoted(tail)} (valid: id, ${describe(target)})`);
    const subAttr = target.byCode.get(sub);
    if (subAttr && (subAttr.type === 'links' || subAttr.type === 'password')) usage(`${quoted(name)}: ${target.name}.${sub} is a ${subAttr.type} and cannot identify a reference`);
    claim(`${attr.code}->${sub}`, name);
    out.push(refSub(attr, target, sub));
  }
  // The importer refuses a reference given both as an id and by attributes.
  for (const c of out) {
    const byId = (c.kind === 'attr' && c.attr.type === 'ref') || (c.kind === 'refSub' && c.sub === 'id');
    if (!byId) continue;
    const other = out.find((o) => o !== c && o.kind === 'refSub' && o.attr === c.attr);
    if (other) usage(`${quoted(c.header)} and ${quoted(other.header)} give ${c.attr.code} both as an id and by attributes; use one or the other`);
  }
  return out;
}

function refCodes(cls: ClassDef): string {
  return cls.attributes.filter((a) => a.type === 'ref').map((a) => a.code).join(', ') || `${cls.name} has none`;
}
