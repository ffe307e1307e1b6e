/**
 * The undo's steps (undo/undo.ts) against a store kept in memory: the decisions both stores
 * share — what goes back, what conflicts, what is refused, what is written and in which
 * order — seen through the questions the steps ask.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StoredEntry } from '../../../src/export/history-read.js';
import { buildModel } from '../../../src/model/load.js';
import type { Scalar } from '../../../src/model/types.js';
import { type Conflict, type ObjectValues, type TargetChange, type UndoClass, type UndoCounts, type UndoOptions, type UndoQueries, answerNow, conflictText, undoSteps } from '../../../src/undo/undo.js';

const model = buildModel(
  {
    classes: {
      Org: { label: 'Org', attributes: { name: { type: 'string', label: 'Name' }, parent_id: { type: 'ref', class: 'Org', label: 'Parent' } }, reconciliation: ['name'] },
      Team: { label: 'Team', attributes: { name: { type: 'string', label: 'Name' }, members: { type: 'links', class: 'Org', label: 'Members' } }, reconciliation: ['name'] },
    },
  },
  'test model',
);

interface Change extends TargetChange {
  entries: StoredEntry[];
}

/** A store in memory: objects by class and id, changes with their history; every write logged. */
class MemoryStore implements UndoQueries {
  readonly objects = new Map<string, Map<number, ObjectValues>>();
  readonly changes = new Map<number, Change>();
  readonly writes: string[] = [];
  private historyId = 1000;

  constructor(changes: Change[]) {
    for (const c of changes) this.changes.set(c.id, c);
  }

  put(cls: string, id: number, values: ObjectValues): void {
    let m = this.objects.get(cls);
    if (!m) this.objects.set(cls, (m = new Map()));
    m.set(id, values);
  }

  change(id: number): TargetChange | null {
    return this.changes.get(id) ?? null;
  }
  changeIds(): { lo: number | null; hi: number | null } {
    const ids = [...this.changes.keys()];
    return ids.length === 0 ? { lo: null, hi: null } : { lo: Math.min(...ids), hi: Math.max(...ids) };
  }
  replicaTrackedFrom(): number {
    return 1;
  }
  openChange(c: { className: string; action: string }): number {
    const id = Math.max(...this.changes.keys()) + 1;
    this.changes.set(id, { id, className: c.className, action: c.action, outcome: 'running', startedAt: 't', undoneBy: null, entries: [] });
    return id;
  }
  historyPage(changeId: number, before: number): StoredEntry[] {
    return (this.changes.get(changeId)?.entries ?? []).filter((e) => e.id < before).sort((a, b) => b.id - a.id);
  }
  rangeSlice(): never {
    throw new Error('no ranges here');
  }
  current(io: UndoClass, id: number): ObjectValues | null {
    const o = this.objects.get(io.cls.name)?.get(id);
    return o ? { ...o } : null;
  }
  referrers(io: UndoClass, id: number): number[][] {
    return io.referrers.map((r) => [...(this.objects.get(r.table)?.entries() ?? [])].filter(([, o]) => o[r.col] === id).map(([k]) => k));
  }
  later(className: string, id: number, after: number): number[] {
    return [...this.changes.values()].filter((c) => c.id > after && c.entries.some((e) => e.class === className && e.object_id === id)).map((c) => c.id);
  }
  remove(io: UndoClass, id: number): void {
    this.objects.get(io.cls.name)?.delete(id);
    this.writes.push(`remove ${io.cls.name} ${id}`);
  }
  restore(io: UndoClass, id: number, values: [string, Scalar][], links: [string, number[]][]): void {
    const o = this.objects.get(io.cls.name)?.get(id) as ObjectValues;
    for (const [c, v] of [...values, ...links]) o[c] = v;
    this.writes.push(`restore ${io.cls.name} ${id} ${JSON.stringify([...values, ...links])}`);
  }
  recreate(io: UndoClass, id: number, values: [string, Scalar][], links: [string, number[]][]): { taken: string | null } | null {
    const taken = values.find(([c, v]) => c === 'name' && [...(this.objects.get(io.cls.name)?.values() ?? [])].some((o) => o.name === v));
    if (taken) return { taken: 'name' };
    this.put(io.cls.name, id, Object.fromEntries([...values, ...links]));
    this.writes.push(`recreate ${io.cls.name} ${id}`);
    return null;
  }
  history(changeId: number, className: string, id: number, op: string, changes: string): void {
    this.changes.get(changeId)?.entries.push({ id: this.historyId++, class: className, object_id: id, last_object_id: null, op, changes });
    this.writes.push(`history ${op} ${className} ${id} ${changes}`);
  }
  bumpGeneration(className: string): void {
    this.writes.push(`generation ${className}`);
  }
  replicas(): number {
    this.writes.push('replicas');
    return 0;
  }
  closeChange(changeId: number, _at: string, c: UndoCounts, outcome: string): void {
    this.writes.push(`close ${changeId} ${outcome} ${JSON.stringify(c)}`);
  }
  markUndone(target: number, changeId: number, earlier: number | null): void {
    this.writes.push(`undone ${target} by ${changeId}${earlier === null ? '' : `, ${earlier} back`}`);
  }
}

let nextEntry = 1;
function entry(cls: string, id: number, op: string, changes: object): StoredEntry {
  return { id: nextEntry++, class: cls, object_id: id, last_object_id: null, op, changes: JSON.stringify(changes) };
}

function change(id: number, action: string, entries: StoredEntry[], more: Partial<TargetChange> = {}): Change {
  return { id, className: 'Org', action, outcome: 'committed', startedAt: 't', undoneBy: null, entries, ...more };
}

const opts = (change: number, more: Partial<UndoOptions> = {}): UndoOptions => ({ db: 'memory', change, simulate: false, force: false, comment: '', user: 'u', ...more });

describe('undoSteps', () => {
  it('takes a change back newest entry first: an update given its old value, a create deleted, a delete recreated with its link set', () => {
    const s = new MemoryStore([
      change(2, 'upsert', [entry('Org', 1, 'update', { name: ['Acme', 'Acme Inc'] }), entry('Org', 2, 'create', { name: 'Beta' }), entry('Team', 5, 'delete', { name: 'Ops', members: [1] })]),
    ]);
    s.put('Org', 1, { source: null, source_id: null, name: 'Acme Inc', parent_id: null });
    s.put('Org', 2, { source: null, source_id: null, name: 'Beta', parent_id: null });
    const { result, keep } = answerNow(undoSteps(opts(2), model), s);
    assert.equal(keep, true);
    assert.equal(result.outcome, 'committed');
    assert.equal(result.undoChange, 3);
    assert.deepEqual(result.counts, { deleted: 1, restored: 1, recreated: 1, skipped: 0, replicas: 0 });
    assert.deepEqual(s.writes, [
      'recreate Team 5',
      'history create Team 5 {"name":"Ops","members":[1]}',
      'remove Org 2',
      'history delete Org 2 {"name":"Beta"}',
      'restore Org 1 [["name","Acme"]]',
      'history update Org 1 {"name":["Acme Inc","Acme"]}',
      'generation Team',
      'generation Org',
      'close 3 committed {"deleted":1,"restored":1,"recreated":1,"skipped":0,"replicas":0}',
      'undone 2 by 3',
    ]);
    assert.deepEqual(s.objects.get('Team')?.get(5), { name: 'Ops', members: [1] });
  });

  it('refuses when a later change wrote what it would revert, naming the later change; --force reverts the rest', () => {
    const changes = (): Change[] => [
      change(2, 'upsert', [entry('Org', 1, 'update', { name: ['Acme', 'Acme Inc'] }), entry('Org', 2, 'create', { name: 'Beta' })]),
      change(3, 'upsert', [entry('Org', 1, 'update', { name: ['Acme Inc', 'Acme 3'] })]),
    ];
    const load = (s: MemoryStore): void => {
      s.put('Org', 1, { source: null, source_id: null, name: 'Acme 3', parent_id: null });
      s.put('Org', 2, { source: null, source_id: null, name: 'Beta', parent_id: 1 });
    };
    const refused = new MemoryStore(changes());
    load(refused);
    const r = answerNow(undoSteps(opts(2), model), refused);
    assert.equal(r.keep, false);
    assert.equal(r.result.outcome, 'refused');
    assert.deepEqual(r.result.conflicts.map(conflictText), ['Org 2 parent_id: a later change set it to 1 (change 2 created it with null)', 'Org 1 name: a later change set it to "Acme 3" (change 2 wrote "Acme Inc"); written since by change 3']);
    const forced = new MemoryStore(changes());
    load(forced);
    const f = answerNow(undoSteps(opts(2, { force: true }), model), forced);
    assert.equal(f.keep, true);
    assert.deepEqual(f.result.counts, { deleted: 0, restored: 0, recreated: 0, skipped: 2, replicas: 0 });
    assert.equal(forced.writes.at(-1), 'undone 2 by 4');
  });

  it('an object others refer to stays; a recreate whose unique value was taken is a conflict naming it', () => {
    const s = new MemoryStore([change(2, 'upsert', [entry('Org', 1, 'create', { name: 'Acme' }), entry('Org', 3, 'delete', { name: 'Gone' })])]);
    s.put('Org', 1, { source: null, source_id: null, name: 'Acme', parent_id: null });
    s.put('Org', 2, { source: null, source_id: null, name: 'Child', parent_id: 1 });
    s.put('Org', 4, { source: null, source_id: null, name: 'Gone', parent_id: null });
    const r = answerNow(undoSteps(opts(2, { force: true }), model), s);
    assert.deepEqual(r.result.conflicts.map((c: Conflict) => conflictText(c)), ['Org 3 name: another object has its name "Gone" now', 'Org 1: it is referred to by Org.parent_id of 2']);
    assert.ok(!s.writes.some((w) => w.startsWith('remove') || w.startsWith('recreate')));
  });

  it('refuses what it cannot undo; a simulation rolls back; an undo of an undo clears the mark of the change it had taken back', () => {
    const s = new MemoryStore([change(2, 'upsert', [], { undoneBy: 3 }), change(3, 'undo 2', []), change(4, 'upsert', [], { outcome: 'simulated' })]);
    assert.throws(() => answerNow(undoSteps(opts(2), model), s), /--change: change 2 was undone by change 3; undo change 3 to bring it back/);
    assert.throws(() => answerNow(undoSteps(opts(4), model), s), /--change: change 4 was a simulation: it wrote nothing/);
    assert.throws(() => answerNow(undoSteps(opts(9), model), s), /--change: there is no change 9 \(valid: 2–4; sluice changes lists them\)/);
    const sim = answerNow(undoSteps(opts(3, { simulate: true }), model), s);
    assert.deepEqual([sim.keep, sim.result.outcome, sim.result.undoChange], [false, 'simulated', null]);
    answerNow(undoSteps(opts(3), model), s);
    assert.deepEqual(s.writes.slice(-3), ['replicas', 'close 6 committed {"deleted":0,"restored":0,"recreated":0,"skipped":0,"replicas":0}', 'undone 3 by 6, 2 back']);
  });
});
