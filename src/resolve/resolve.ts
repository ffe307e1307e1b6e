import { quoted } from '../base/errors.js';
import type { ClassDef, Model, Scalar } from '../model/types.js';
import { emptyValue } from '../rows/cast.js';
import type { LinkItem, MappedRows } from '../rows/map.js';
import type { ImportPlan, LinkSpec, RefGroup } from '../rows/plan.js';
import type { Lookup, Match } from './lookup.js';
import { MatchBy, type ResolvedChunk } from './protocol.js';
import { type TupleKey, hasEmpty, tupleKey } from './tuple.js';

/** The message for a reference that matched nothing, or several objects. */
export function refMessage(lookup: Lookup, header: string[], group: RefGroup, tuple: readonly Scalar[], m: Match): string {
  const col = group.columns.map((c) => quoted(header[c] ?? '')).join(' + ');
  const value = tuple.map((v) => (v === null ? '<NULL>' : quoted(String(v)))).join(' + ');
  if (m.count > 1) return `column ${col}: ambiguous: ${m.count} ${group.target} objects match ${value}`;
  const sample = lookup.sample(group.target, group.subs[0] as string);
  const existing = sample.length > 0 ? `; existing values: ${sample.join(', ')}` : `; there are no ${group.target} objects yet`;
  return `column ${col}: no ${group.target} matches ${value}${existing}`;
}

export interface LinkIds {
  /** the ids the items name, ascending, without repeats */
  ids: number[];
  /** the messages of the items that name no object or several, joined; null when all name one */
  error: string | null;
}

/** The objects each cell's link items name, looked up in bulk (one query per item attribute). */
export function resolveLinkItems(lookup: Lookup, plan: ImportPlan, l: LinkSpec, cells: readonly (readonly LinkItem[])[]): LinkIds[] {
  const byAttr = new Map<string, Scalar[][]>();
  for (const items of cells) {
    for (const it of items) {
      let list = byAttr.get(it.attr);
      if (!list) byAttr.set(it.attr, (list = []));
      list.push([it.value]);
    }
  }
  const found = new Map<string, Map<TupleKey, Match>>();
  for (const [attr, tuples] of byAttr) found.set(attr, lookup.resolve(l.target, [attr], tuples));
  const column = quoted(plan.header[l.column] ?? '');
  return cells.map((items) => {
    const ids = new Set<number>();
    let error: string | null = null;
    const fail = (e: string): void => {
      error = error === null ? e : `${error}; ${e}`;
    };
    for (const it of items) {
      const r = found.get(it.attr)?.get(tupleKey([it.value])) as Match;
      if (r.count === 1) ids.add(r.id as number);
      else if (r.count === 0) {
        const sample = lookup.sample(l.target, it.attr);
        fail(`column ${column}: unknown item ${quoted(it.text)} (no ${l.target} with ${it.attr} ${quoted(String(it.value))}${sample.length ? `; existing: ${sample.map((v) => quoted(v)).join(', ')}` : ''})`);
      } else fail(`column ${column}: item ${quoted(it.text)} is ambiguous: ${r.count} ${l.target} objects match`);
    }
    return { ids: [...ids].sort((a, b) => a - b), error };
  });
}

const keySlots = new WeakMap<ImportPlan, { slot: number; empty: Scalar }[]>();

/** Reconciliation tuple of a row from its value slots (empty cells count as empty values). */
export function keyTuple(plan: ImportPlan, cls: ClassDef, values: readonly (Scalar | undefined)[], base: number): Scalar[] {
  let keys = keySlots.get(plan);
  if (!keys) keySlots.set(plan, (keys = plan.keys.map((k) => ({ slot: plan.slots.indexOf(k), empty: emptyValue(cls.byCode.get(k) as never) }))));
  const out = new Array<Scalar>(keys.length);
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k] as { slot: number; empty: Scalar };
    const v = values[base + key.slot];
    out[k] = v === undefined ? key.empty : v;
  }
  return out;
}

/** Resolve the references, link items and reconciliation matches of one frame in bulk. */
export function resolveChunk(model: Model, plan: ImportPlan, lookup: Lookup, m: MappedRows, seq: number, byteLength: number): ResolvedChunk {
  const n = m.count;
  const cls = model.classes.get(plan.className) as ClassDef;
  const nSlots = plan.slots.length;
  const nRefs = plan.refs.length;
  const nLinks = plan.links.length;
  const error = m.error;
  const warn: (string | null)[] = new Array(n).fill(null);
  const addWarn = (i: number, w: string): void => {
    (m.warn[i] ??= []).push(w);
  };
  const addError = (i: number, e: string): void => {
    error[i] = error[i] ? `${error[i]}; ${e}` : e;
  };

  // References into the imported class itself, or into a class an earlier file of the same
  // bundle wrote, are kept with the worker's verdict on them: the writer settles them.
  const inRun = (target: string): boolean => target === plan.className || (plan.writtenBefore?.includes(target) ?? false);
  const selfRefTuple: (Scalar[] | null)[] = new Array(n * nRefs).fill(null);
  const selfRefError: (string | null)[] = new Array(n * nRefs).fill(null);
  plan.refs.forEach((g, gi) => {
    const self = inRun(g.target);
    const tuples: Scalar[][] = [];
    for (let i = 0; i < n; i++) {
      const t = m.refTuples[i * nRefs + gi];
      if (error[i] === null && t) tuples.push(t);
    }
    const found = lookup.resolve(g.target, g.subs, tuples);
    for (let i = 0; i < n; i++) {
      const t = m.refTuples[i * nRefs + gi];
      if (t === undefined) {
        m.values[i * nSlots + g.slot] = undefined;
        continue;
      }
      if (t === null) {
        m.values[i * nSlots + g.slot] = null;
        continue;
      }
      if (error[i] !== null) continue;
      const r = found.get(tupleKey(t)) as Match;
      if (self) selfRefTuple[i * nRefs + gi] = t;
      if (r.count === 1) m.values[i * nSlots + g.slot] = r.id;
      else if (self) selfRefError[i * nRefs + gi] = refMessage(lookup, plan.header, g, t, r);
      else addError(i, refMessage(lookup, plan.header, g, t, r));
    }
  });

  const links: (number[] | undefined)[] = new Array(n * nLinks);
  // Items into the imported class itself are kept with the worker's verdict on them: the
  // writer resolves them again once the run has written the class.
  const selfLinkItems: (LinkItem[] | null)[] = new Array(n * nLinks).fill(null);
  const selfLinkError: (string | null)[] = new Array(n * nLinks).fill(null);
  plan.links.forEach((l, li) => {
    const self = inRun(l.target);
    const rows: number[] = [];
    const lists: LinkItem[][] = [];
    for (let i = 0; i < n; i++) {
      const items = m.linkItems[i * nLinks + li];
      if (error[i] !== null || !items) continue;
      rows.push(i);
      lists.push(items);
    }
    const resolved = resolveLinkItems(lookup, plan, l, lists);
    rows.forEach((i, k) => {
      const r = resolved[k] as LinkIds;
      links[i * nLinks + li] = r.ids;
      if (self) {
        selfLinkItems[i * nLinks + li] = lists[k] as LinkItem[];
        selfLinkError[i * nLinks + li] = r.error;
      } else if (r.error !== null) addError(i, r.error);
    });
  });

  // For each reconciliation key, the reference group into the imported class that gives it (-1: none).
  const selfKeyRef = plan.keys.map((k) => plan.refs.findIndex((g) => inRun(g.target) && g.attr === k));
  const matchBy = new Uint8Array(n);
  const matchTuple: (Scalar[] | null)[] = new Array(n).fill(null);
  const rowId = new Float64Array(n);
  const byId: Scalar[][] = [];
  const bySource: Scalar[][] = [];
  const byKeys: Scalar[][] = [];
  /** row i's key tuple, with the warning an empty key value gets */
  const keysOf = (i: number): Scalar[] => {
    const t = keyTuple(plan, cls, m.values, i * nSlots);
    if (hasEmpty(t)) {
      // A key given by a reference into the imported class is not empty when its cell names
      // an object: the writer resolves it again, once the run has written the class.
      const empty = plan.keyLabels.filter((_, k) => (t[k] === null || t[k] === '') && !(selfKeyRef[k] !== -1 && selfRefTuple[i * nRefs + (selfKeyRef[k] as number)] !== null));
      if (empty.length > 0) addWarn(i, `empty reconciliation key ${empty.join(', ')} matches objects where it is empty`);
    }
    return t;
  };
  for (let i = 0; i < n; i++) {
    if (error[i] !== null) continue;
    let t: Scalar[];
    if (m.id[i] !== null) {
      matchBy[i] = MatchBy.Id;
      rowId[i] = m.id[i] as number;
      byId.push((t = [m.id[i] as number]));
    } else if (m.source[i] !== null && m.sourceId[i] !== null) {
      matchBy[i] = MatchBy.Source;
      bySource.push((t = [m.source[i], m.sourceId[i]]));
    } else if (plan.keys.length > 0) {
      matchBy[i] = MatchBy.Keys;
      byKeys.push((t = keysOf(i)));
    } else continue;
    matchTuple[i] = t;
  }
  const matchCount = new Int32Array(n);
  const matchId = new Float64Array(n);
  const current: (Scalar[] | null)[] = new Array(n).fill(null);
  const owners: number[] = [];
  // Into a class that was empty nothing matches (the writer re-checks what the run creates).
  const empty = lookup.isEmpty(plan.className);
  /** the matches of `rows` (null: every row) from `found`, by how each row looks */
  const settle = (found: (Map<TupleKey, Match> | null)[], rows: number[] | null): void => {
    const count = rows ? rows.length : n;
    for (let k = 0; k < count; k++) {
      const i = rows ? (rows[k] as number) : k;
      const t = matchTuple[i];
      if (!t) continue;
      const r = (found[matchBy[i] as number] as Map<TupleKey, Match>).get(tupleKey(t)) as Match;
      matchCount[i] = r.count;
      matchId[i] = r.id ?? 0;
      if (r.count === 1) {
        current[i] = r.row;
        owners.push(r.id as number);
      }
    }
  };
  if (!empty) {
    const found = [
      null,
      lookup.resolve(plan.className, ['id'], byId, plan.fetch),
      lookup.resolve(plan.className, ['source', 'source_id'], bySource, plan.fetch),
      lookup.resolve(plan.className, plan.keys, byKeys, plan.fetch),
    ];
    settle(found, null);
  }
  // A sync's record its source has no object for is looked for by the keys.
  if (plan.sync && plan.keys.length > 0) {
    const again: number[] = [];
    const tuples: Scalar[][] = [];
    for (let i = 0; i < n; i++) {
      if (matchBy[i] !== MatchBy.Source || matchCount[i] !== 0) continue;
      matchBy[i] = MatchBy.Keys;
      const t = keysOf(i);
      matchTuple[i] = t;
      again.push(i);
      tuples.push(t);
    }
    if (!empty && again.length > 0) settle([null, null, null, lookup.resolve(plan.className, plan.keys, tuples, plan.fetch)], again);
  }
  const currentLinks: (number[] | null)[] = new Array(n * nLinks).fill(null);
  plan.links.forEach((l, li) => {
    const members = lookup.linkMembers(l.linkTable, owners);
    for (let i = 0; i < n; i++) if (matchCount[i] === 1) currentLinks[i * nLinks + li] = members.get(matchId[i] as number) ?? [];
  });

  const diff = new Uint8Array(n);
  if (plan.action === 'upsert' || plan.action === 'update') {
    const fetchIndex = plan.slots.map((code) => plan.fetch.indexOf(code));
    const password = plan.slots.map((code) => cls.byCode.get(code)?.type === 'password');
    const srcIdx = plan.fetch.indexOf('source');
    for (let i = 0; i < n; i++) {
      const cur = current[i];
      if (matchCount[i] !== 1 || !cur) continue;
      diff[i] = sameAsCurrent(m, i, nSlots, nLinks, cur, fetchIndex, password, srcIdx, currentLinks, links) ? 1 : 2;
      if (diff[i] === 1) {
        // The writer needs the old values only to write a change; unchanged rows travel light.
        current[i] = null;
        for (let li = 0; li < nLinks; li++) currentLinks[i * nLinks + li] = null;
      }
    }
  }

  for (let i = 0; i < n; i++) {
    const w = m.warn[i];
    if (w) warn[i] = w.join('\n');
  }
  return {
    seq,
    byteLength,
    count: n,
    line: m.line,
    error,
    warn,
    values: m.values,
    links,
    matchBy,
    rowId,
    diff,
    matchCount,
    matchId,
    current,
    currentLinks,
    selfRefTuple,
    selfRefError,
    selfLinkItems,
    selfLinkError,
    source: m.source,
    sourceId: m.sourceId,
    replica: m.replica,
    fp: null,
    hits: null,
    frame: null,
  };
}

function sameAsCurrent(
  m: MappedRows,
  i: number,
  nSlots: number,
  nLinks: number,
  cur: Scalar[],
  fetchIndex: number[],
  password: boolean[],
  srcIdx: number,
  currentLinks: (number[] | null)[],
  links: (number[] | undefined)[],
): boolean {
  const base = i * nSlots;
  for (let s = 0; s < nSlots; s++) {
    const v = m.values[base + s];
    if (v === undefined) continue;
    // Password hashes are salted: only the writer can tell whether a password changed.
    if (password[s] || v !== cur[fetchIndex[s] as number]) return false;
  }
  if (m.source[i] !== null && m.source[i] !== cur[srcIdx]) return false;
  if (m.sourceId[i] !== null && m.sourceId[i] !== cur[srcIdx + 1]) return false;
  for (let li = 0; li < nLinks; li++) {
    const next = links[i * nLinks + li];
    if (next === undefined) continue;
    const prev = currentLinks[i * nLinks + li] ?? [];
    if (prev.length !== next.length || prev.some((id, k) => id !== next[k])) return false;
  }
  return true;
}
