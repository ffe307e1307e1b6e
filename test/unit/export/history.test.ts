import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'csv-parse/sync';
import { type AttributeChange, HISTORY_COLUMNS, csvRecord, expandHistory, jsonRecord, textLine } from '../../../src/export/history.js';

const links = (cls: string, attr: string): boolean => cls === 'UserLocal' && attr === 'profile_list';
const entry = (op: string, changes: unknown, cls = 'Person'): { class: string; object_id: number; op: string; changes: string } => ({
  class: cls,
  object_id: 7,
  op,
  changes: typeof changes === 'string' ? changes : JSON.stringify(changes),
});
const pick = (cs: AttributeChange[]): unknown[] => cs.map((c) => [c.attribute, c.old, c.new]);

describe('expandHistory', () => {
  it('turns an update into one record per attribute with old and new', () => {
    const cs = expandHistory(entry('update', { email: ['a@x', 'b@x'], phone: [null, ''] }), links);
    assert.deepEqual(pick(cs), [
      ['email', 'a@x', 'b@x'],
      ['phone', null, ''],
    ]);
    assert.equal(cs[0]?.objectId, 7);
    assert.equal(cs[0]?.className, 'Person');
    assert.equal(cs[0]?.op, 'update');
  });

  it('gives a create only new values and a delete only old ones', () => {
    assert.deepEqual(pick(expandHistory(entry('create', { name: 'Doe', nb: 3 }), links)), [
      ['name', undefined, 'Doe'],
      ['nb', undefined, 3],
    ]);
    assert.deepEqual(pick(expandHistory(entry('delete', { name: 'Doe' }), links)), [['name', 'Doe', undefined]]);
  });

  it('reads link sets as id lists, on create and on update', () => {
    assert.deepEqual(pick(expandHistory(entry('create', { profile_list: [2, 3] }, 'UserLocal'), links)), [['profile_list', undefined, [2, 3]]]);
    // a two-member set is not mistaken for an [old, new] pair
    assert.deepEqual(pick(expandHistory(entry('create', { profile_list: [null, 3] }, 'UserLocal'), links)), [['profile_list', undefined, [null, 3]]]);
    assert.deepEqual(pick(expandHistory(entry('update', { profile_list: [[2], [2, 3]] }, 'UserLocal'), links)), [['profile_list', [2], [2, 3]]]);
  });

  it("reads the seed's [null, value] create records", () => {
    assert.deepEqual(pick(expandHistory(entry('create', { name: [null, 'Administrator'] }, 'Profile'), links)), [['name', undefined, 'Administrator']]);
  });

  it('keeps an entry without attributes visible', () => {
    assert.deepEqual(pick(expandHistory(entry('create', {}), links)), [[null, undefined, undefined]]);
    assert.deepEqual(pick(expandHistory(entry('update', 'not json'), links)), [[null, undefined, 'not json']]);
  });
});

describe('history output', () => {
  const [update] = expandHistory(entry('update', { email: ['a@x', '=b'] }), links);
  const [create] = expandHistory(entry('create', { phone: null }), links);
  const [del] = expandHistory(entry('delete', { name: 'Doe' }), links);

  it('prints text lines with JSON literals', () => {
    assert.equal(textLine(update as AttributeChange), 'Person 7          update  email: "a@x" → "=b"\n');
    assert.equal(textLine(create as AttributeChange), 'Person 7          create  phone = null\n');
    assert.equal(textLine(del as AttributeChange), 'Person 7          delete  name was "Doe"\n');
  });

  it('writes CSV records that parse back, <NULL> for null, empty for a missing side, guarded unless raw', () => {
    const text = [HISTORY_COLUMNS.join(','), csvRecord(update as AttributeChange, true).trimEnd(), csvRecord(create as AttributeChange, true).trimEnd(), csvRecord(update as AttributeChange, false).trimEnd()].join('\n');
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    assert.deepEqual(rows[0], { object_id: '7', class: 'Person', operation: 'update', attribute: 'email', old: 'a@x', new: "'=b" });
    assert.deepEqual(rows[1], { object_id: '7', class: 'Person', operation: 'create', attribute: 'phone', old: '', new: '<NULL>' });
    assert.equal(rows[2]?.new, '=b');
  });

  it('writes JSON records with null for a missing side', () => {
    assert.deepEqual(JSON.parse(jsonRecord(del as AttributeChange)), { object_id: 7, class: 'Person', operation: 'delete', attribute: 'name', old: 'Doe', new: null });
  });
});
