import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { peerCounts } from '../../../bench/lib/scenario.js';

describe('bench scenario: peerCounts', () => {
  const nightly = { lines: 20_000, created: 100, updated: 200, unchanged: 19_700, errors: 0 };

  it('accepts an SQL pipeline that wrote the created and updated rows, and nothing else', () => {
    assert.deepEqual(peerCounts({ label: 'peer P', report: { rows: 20_000, written: 300 } }, nightly), []);
  });

  it('flags a pipeline that rewrote unchanged rows, or missed some', () => {
    assert.deepEqual(peerCounts({ label: 'peer P', report: { rows: 20_000, written: 20_000 } }, nightly), ['peer P wrote 20000 rows, expected 300 (100 created, 200 updated)']);
    assert.equal(peerCounts({ label: 'peer P', report: { rows: 20_000, written: 299 } }, nightly).length, 1);
  });

  it('checks the counts a peer keeps itself', () => {
    assert.deepEqual(peerCounts({ label: 'peer B', report: { created: 100, updated: 200, unchanged: 19_700 } }, nightly), []);
    assert.deepEqual(peerCounts({ label: 'peer B', report: { created: 100, updated: 199, unchanged: 19_701 } }, nightly), [
      'peer B reports updated = 199, expected 200',
      'peer B reports unchanged = 19701, expected 19700',
    ]);
  });

  it('has nothing to check in a report without counts', () => {
    assert.deepEqual(peerCounts({ label: 'parse only', report: { rows: 20_000 } }, nightly), []);
    assert.deepEqual(peerCounts({ label: 'peer P', report: null }, nightly), []);
  });
});
