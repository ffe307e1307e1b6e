/** The undo's decisions about a sync's replicas (undo/replicas.ts), which SQLite's and PostgreSQL's undos share. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Image, type ReplicaState, replicaConflict, restoreOf } from '../../../src/undo/replicas.js';

const state = (over: Partial<ReplicaState> = {}): ReplicaState => ({
  object_id: 7,
  owned: 1,
  status: 'synchronized',
  error: null,
  cells: '{"a":"1"}',
  seen_sync: 3,
  seen_at: '2026-12-07T10:00:00.000Z',
  absent_since: null,
  created_change: 2,
  ...over,
});
const image = (existed: number, over: Partial<ReplicaState> = {}): Image => ({ ...state(over), existed });
const src = { name: 'hr', className: 'Person' };
const key = { source_ref: 1, record: 'E1' };
const none = (): boolean => false;

describe('restoreOf', () => {
  it('removes a replica the change put back, recreates one it removed, and sets the rest back', () => {
    assert.equal(restoreOf(image(0), state()), 'remove');
    assert.equal(restoreOf(image(0), null), 'none');
    assert.equal(restoreOf(image(1), null), 'insert');
    assert.equal(restoreOf(image(1), state()), 'set');
  });
});

describe('replicaConflict', () => {
  it('none when no later change wrote the replica, or a later one found it as the change left it', () => {
    assert.equal(replicaConflict(key, state(), [], src, none), null);
    // Only when it was last seen differs: not a meaningful change.
    assert.equal(replicaConflict(key, state(), [{ ...image(1, { seen_sync: 9 }), change_id: 5 }], src, none), null);
  });

  it('names the later changes when one left it otherwise, or removed it', () => {
    const later = [
      { ...image(1), change_id: 5 },
      { ...image(1, { cells: '{"a":"2"}' }), change_id: 6 },
    ];
    const wrote = replicaConflict(key, state({ cells: '{"a":"3"}' }), later, src, none);
    assert.deepEqual(wrote, { className: 'Person', objectId: 7, replica: { source: 'hr', record: 'E1' }, attribute: null, reason: 'a later change wrote it', later: [5, 6] });
    const removed = replicaConflict(key, null, [{ ...image(1), change_id: 5 }], src, none);
    assert.equal(removed?.reason, 'a later change removed it');
    assert.equal(removed?.objectId, null);
  });

  it('names the object the undo leaves as it is', () => {
    const c = replicaConflict(key, state(), [], src, (cls, id) => cls === 'Person' && id === 7);
    assert.equal(c?.reason, 'its object Person 7 stays as it is');
  });
});
