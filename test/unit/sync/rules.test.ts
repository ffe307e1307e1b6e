/** The sync rules both stores' writers share (sync/writer.ts): the guard and which absent objects are deleted. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { absentAllowed, dueForDeletion, guardError } from '../../../src/sync/writer.js';

describe('the full-load guard', () => {
  it('allows a share of the owned objects, rounded down, or a number of them', () => {
    assert.equal(absentAllowed({ percent: 50 }, 10), 5);
    assert.equal(absentAllowed({ percent: 50 }, 9), 4);
    assert.equal(absentAllowed({ percent: 0 }, 1000), 0);
    assert.equal(absentAllowed({ count: 3 }, 1000), 3);
  });

  it('says what the feed holds, what would be absent and how to go on, exit 2', () => {
    const e = guardError({ source: 'hr', maxAbsent: { percent: 50 } }, 'Person', 1, 12, 11);
    assert.equal(e.code, 'E_USAGE');
    assert.equal(
      e.message,
      'the feed has 1 row; the source hr owns 12 Person objects, of which 11 would be absent, more than --max-absent 50% allows; nothing was written: check the feed (an empty or truncated export?), or pass --force to accept',
    );
  });
});

describe('which absent objects a delete policy deletes', () => {
  const started = '2026-12-07T10:00:00.000Z';
  const now = '2026-12-07T10:00:05.000Z';
  it('delete: once absent for the retention', () => {
    assert.equal(dueForDeletion('delete', now, now, started, 0), true);
    assert.equal(dueForDeletion('delete', '2026-12-06T10:00:05.000Z', now, started, 86_400), true);
    assert.equal(dueForDeletion('delete', '2026-12-06T10:00:06.000Z', now, started, 86_400), false);
  });

  it('update-then-delete: not by the run that found it absent, which updates it', () => {
    assert.equal(dueForDeletion('update-then-delete', now, now, started, 0), false);
    assert.equal(dueForDeletion('update-then-delete', '2026-12-07T09:00:00.000Z', now, started, 0), true);
    assert.equal(dueForDeletion('update-then-delete', '2026-12-07T09:00:00.000Z', now, started, 86_400), false);
  });

  it('ignore and update: never', () => {
    assert.equal(dueForDeletion('ignore', '2000-01-01T00:00:00.000Z', now, started, 0), false);
    assert.equal(dueForDeletion('update', '2000-01-01T00:00:00.000Z', now, started, 0), false);
  });
});
