/**
 * A data source's settings (SPEC §5): what `sluice source add|edit` accepts, checked against
 * the model in one place, and the form they are stored in (`_sluice_source.config`, JSON).
 * Pure: no database here (sync/store.ts keeps them).
 */
import { SluiceError, quoted } from '../base/errors.js';
import { findAttribute, findClass } from '../model/load.js';
import type { Attribute, ClassDef, Model, Scalar } from '../model/types.js';
import { castValue, emptyValue } from '../rows/cast.js';
import { compileDateFormat } from '../rows/dates.js';

/** What a sync does with one attribute of an object it updates. */
export type UpdatePolicy = 'master' | 'write-if-empty' | 'ignore';
export const UPDATE_POLICIES: readonly UpdatePolicy[] = ['master', 'write-if-empty', 'ignore'];

/** What a full load does with an object whose record is no longer in the feed. */
export type DeletePolicy = 'ignore' | 'delete' | 'update' | 'update-then-delete';
export const DELETE_POLICIES: readonly DeletePolicy[] = ['ignore', 'delete', 'update', 'update-then-delete'];

export type OnZero = 'create' | 'error';
export const ON_ZERO: readonly OnZero[] = ['create', 'error'];
export type OnMultiple = 'error' | 'take-first' | 'create';
export const ON_MULTIPLE: readonly OnMultiple[] = ['error', 'take-first', 'create'];

/** The most owned objects a full load may make absent: a share of them, or a number. */
export type MaxAbsent = { percent: number } | { count: number };

export interface SourceConfig {
  name: string;
  className: string;
  /** reconciliation keys, attribute codes (a reference as `org_id`); empty: the class's own */
  keys: string[];
  /** attribute code → policy, for the attributes that are not `master` */
  updatePolicy: Record<string, UpdatePolicy>;
  deletePolicy: DeletePolicy;
  /** attribute code → value (as stored) that `update` and `update-then-delete` set */
  deleteUpdate: Record<string, Scalar>;
  /** seconds an owned object stays absent before it is deleted */
  retentionS: number;
  onZero: OnZero;
  onMultiple: OnMultiple;
  maxAbsent: MaxAbsent;
  /** objects found by reconciliation become the source's own (they may be deleted by it) */
  claim: boolean;
  description: string;
}

/** The settings as `source add|edit` takes them: option name → text; absent ones keep their value. */
export interface SourceOptions {
  name?: string;
  class?: string;
  keys?: string;
  'update-policy'?: string;
  'delete-policy'?: string;
  'delete-update'?: string;
  retention?: string;
  'on-zero'?: string;
  'on-multiple'?: string;
  'max-absent'?: string;
  claim?: boolean;
  description?: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function usage(option: string, message: string): SluiceError {
  return new SluiceError('E_USAGE', `--${option}: ${message}`, { option: `--${option}` });
}

function oneOf<T extends string>(option: string, value: string, valid: readonly T[]): T {
  const v = value.trim().toLowerCase();
  if (!(valid as readonly string[]).includes(v)) throw usage(option, `${quoted(value)} is not valid (valid: ${valid.join(', ')})`);
  return v as T;
}

function attribute(option: string, cls: ClassDef, name: string): Attribute {
  const a = findAttribute(cls, name.trim());
  if (!a) throw usage(option, `${cls.name} has no attribute ${quoted(name.trim())} (valid: ${cls.attributes.map((x) => x.code).join(', ')})`);
  return a;
}

/** `a=b, c=d` (or `a:b; c:d`) → pairs; an item without `=` or `:` is an error naming it. */
function assignments(option: string, text: string, what: string): [string, string][] {
  const out: [string, string][] = [];
  for (const item of text.split(/[,;]/)) {
    if (item.trim() === '') continue;
    const m = /^([^=:]+)[=:](.*)$/.exec(item);
    if (!m) throw usage(option, `${quoted(item.trim())} is not an assignment (write ${what})`);
    out.push([(m[1] as string).trim(), (m[2] as string).trim()]);
  }
  return out;
}

export function parseName(value: string, option = 'name'): string {
  const v = value.trim();
  if (!NAME.test(v)) throw usage(option, `${quoted(value)} is not a valid source name (1 to 64 letters, digits, _ . -, starting with a letter or digit)`);
  return v;
}

function parseKeys(cls: ClassDef, text: string): string[] {
  const keys: string[] = [];
  for (const raw of text.split(',')) {
    const name = raw.trim();
    if (name === '') continue;
    // A reference is a key by its attribute (`org_id->name` names org_id); the feed's columns say how it is given.
    const head = name.includes('->') ? name.slice(0, name.indexOf('->')).trim() : name;
    const a = attribute('keys', cls, head);
    if (a.type === 'links' || a.type === 'password') throw usage('keys', `${a.code} is a ${a.type} attribute and cannot be a reconciliation key`);
    if (!keys.includes(a.code)) keys.push(a.code);
  }
  return keys;
}

function parseUpdatePolicy(cls: ClassDef, text: string): Record<string, UpdatePolicy> {
  const out: Record<string, UpdatePolicy> = {};
  for (const [name, policy] of assignments('update-policy', text, `attribute=${UPDATE_POLICIES.join('|')}, e.g. "phone=write-if-empty, function=ignore"`)) {
    const a = attribute('update-policy', cls, name);
    const p = oneOf('update-policy', policy, UPDATE_POLICIES);
    if (p === 'master') delete out[a.code];
    else out[a.code] = p;
  }
  return out;
}

/** A value `--delete-update` sets, cast as a cell of that attribute is (dates in ISO 8601). */
function deleteValue(a: Attribute, text: string): Scalar {
  if (a.type === 'links' || a.type === 'password') throw usage('delete-update', `${a.code} is a ${a.type} attribute; only plain attributes and references (by id) can be set on an absent object`);
  if (text === '<NULL>') return null;
  if (text === '') return emptyValue(a);
  const r = castValue(a, text, { dates: compileDateFormat(undefined) });
  if (!r.ok) throw usage('delete-update', `${a.code}: ${r.message}`);
  return r.value;
}

function parseDeleteUpdate(cls: ClassDef, text: string): Record<string, Scalar> {
  const out: Record<string, Scalar> = {};
  for (const [name, value] of assignments('delete-update', text, 'attribute=value, e.g. "status=inactive"')) {
    const a = attribute('delete-update', cls, name);
    out[a.code] = deleteValue(a, value);
  }
  return out;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** `0`, `45s`, `15m`, `12h`, `30d`, `2w` → seconds. */
export function parseRetention(text: string): number {
  const v = text.trim().toLowerCase();
  if (v === '0') return 0;
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(v);
  if (!m) throw usage('retention', `${quoted(text)} is not a duration (valid: 0, or a number with a unit s, m, h, d or w, e.g. 30d)`);
  return Math.round(Number(m[1]) * (UNITS[m[2] as string] as number));
}

export function retentionText(s: number): string {
  if (s === 0) return '0';
  for (const u of ['w', 'd', 'h', 'm'] as const) if (s % (UNITS[u] as number) === 0) return `${s / (UNITS[u] as number)}${u}`;
  return `${s}s`;
}

/** `50%` or `1000` (owned objects). */
export function parseMaxAbsent(text: string): MaxAbsent {
  const v = text.trim();
  const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(v);
  if (pct) {
    const p = Number(pct[1]);
    if (p > 100) throw usage('max-absent', `${quoted(text)} is more than 100%`);
    return { percent: p };
  }
  if (/^\d+$/.test(v)) return { count: Number(v) };
  throw usage('max-absent', `${quoted(text)} is not valid (a share of the owned objects such as 50%, or a number of objects such as 1000)`);
}

export function maxAbsentText(m: MaxAbsent): string {
  return 'percent' in m ? `${m.percent}%` : String(m.count);
}

export const DEFAULTS = {
  deletePolicy: 'ignore' as DeletePolicy,
  retentionS: 0,
  onZero: 'create' as OnZero,
  onMultiple: 'error' as OnMultiple,
  maxAbsent: { percent: 50 } as MaxAbsent,
};

/**
 * The settings `opts` describe, over `base` (the stored ones, for `edit`); every value is
 * checked against the model here, so that a sync never meets a setting it cannot apply.
 */
export function sourceConfig(model: Model, opts: SourceOptions, base?: SourceConfig): SourceConfig {
  if (!base && opts.name === undefined) throw usage('name', 'is required (the name of the source, e.g. hr-feed)');
  if (!base && opts.class === undefined) throw usage('class', `is required (valid: ${[...model.classes.keys()].join(', ')})`);
  const cls = opts.class !== undefined ? findClass(model, opts.class.trim()) : findClass(model, (base as SourceConfig).className);
  const classChanged = base !== undefined && cls.name !== base.className;
  const keep = <T>(v: T | undefined, fallback: T): T => (v !== undefined ? v : fallback);
  const c: SourceConfig = {
    name: opts.name !== undefined ? parseName(opts.name) : (base as SourceConfig).name,
    className: cls.name,
    keys: opts.keys !== undefined ? parseKeys(cls, opts.keys) : classChanged ? [] : (base?.keys ?? []),
    updatePolicy: opts['update-policy'] !== undefined ? parseUpdatePolicy(cls, opts['update-policy']) : classChanged ? {} : (base?.updatePolicy ?? {}),
    deletePolicy: opts['delete-policy'] !== undefined ? oneOf('delete-policy', opts['delete-policy'], DELETE_POLICIES) : (base?.deletePolicy ?? DEFAULTS.deletePolicy),
    deleteUpdate: opts['delete-update'] !== undefined ? parseDeleteUpdate(cls, opts['delete-update']) : classChanged ? {} : (base?.deleteUpdate ?? {}),
    retentionS: opts.retention !== undefined ? parseRetention(opts.retention) : (base?.retentionS ?? DEFAULTS.retentionS),
    onZero: opts['on-zero'] !== undefined ? oneOf('on-zero', opts['on-zero'], ON_ZERO) : (base?.onZero ?? DEFAULTS.onZero),
    onMultiple: opts['on-multiple'] !== undefined ? oneOf('on-multiple', opts['on-multiple'], ON_MULTIPLE) : (base?.onMultiple ?? DEFAULTS.onMultiple),
    maxAbsent: opts['max-absent'] !== undefined ? parseMaxAbsent(opts['max-absent']) : (base?.maxAbsent ?? DEFAULTS.maxAbsent),
    claim: keep(opts.claim, base?.claim ?? false),
    description: keep(opts.description, base?.description ?? ''),
  };
  if (c.keys.length === 0 && cls.reconciliation.length === 0) {
    throw usage('keys', `${cls.name} has no default reconciliation keys; name the attributes that identify an object (e.g. --keys ${cls.attributes[0]?.code ?? 'name'})`);
  }
  const updating = c.deletePolicy === 'update' || c.deletePolicy === 'update-then-delete';
  if (updating && Object.keys(c.deleteUpdate).length === 0) {
    throw usage('delete-update', `is required with --delete-policy ${c.deletePolicy}: the values an absent object gets (e.g. "status=inactive")`);
  }
  if (!updating && Object.keys(c.deleteUpdate).length > 0) {
    if (opts['delete-update'] !== undefined) throw usage('delete-update', `applies only with --delete-policy update or update-then-delete (the policy is ${c.deletePolicy})`);
    // A policy changed away from updating drops the values it set.
    c.deleteUpdate = {};
  }
  for (const k of c.keys) {
    if (c.updatePolicy[k] !== undefined) throw usage('update-policy', `${k} is a reconciliation key of the source; a key is always written as the feed gives it`);
  }
  return c;
}

/** The reconciliation keys a sync uses: the source's own, else the class's. */
export function effectiveKeys(model: Model, c: SourceConfig): string[] {
  return c.keys.length > 0 ? c.keys : (model.classes.get(c.className) as ClassDef).reconciliation;
}
