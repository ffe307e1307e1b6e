import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_FRAME_GROWTH, frameTarget } from '../../../src/base/threads.js';

test('frames keep their size while the workers parse every row', () => {
  assert.equal(frameTarget(65536, 500, 0), 65536);
  assert.equal(frameTarget(65536, 0, 0), 65536, 'an empty chunk says nothing about the rows to come');
});

test('frames grow with the share of rows matched by fingerprint, up to the cap', () => {
  assert.equal(frameTarget(65536, 500, 250), 131072);
  assert.equal(frameTarget(65536, 400, 300), 262144);
  assert.equal(frameTarget(65536, 500, 500), 65536 * MAX_FRAME_GROWTH);
  assert.equal(frameTarget(65536, 1000, 999), 65536 * MAX_FRAME_GROWTH);
  assert.equal(frameTarget(1, 10, 5), 2);
});
