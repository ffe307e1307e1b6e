import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { percentile, summarize, timeline } from '../../../bench/lib/latency.js';

describe('bench latency: percentile (nearest rank)', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);

  it('is a sample that was taken, at the rank ceil(p/100 × n)', () => {
    assert.equal(percentile(hundred, 50), 50);
    assert.equal(percentile(hundred, 90), 90);
    assert.equal(percentile(hundred, 99), 99);
    assert.equal(percentile(hundred, 100), 100);
    assert.equal(percentile([1, 2, 3, 4], 50), 2);
    assert.equal(percentile([1, 2, 3, 4, 5], 50), 3);
    // 99 % of 10 samples is rank 10: the slowest one, not an interpolation below it.
    assert.equal(percentile([1, 1, 1, 1, 1, 1, 1, 1, 1, 400], 99), 400);
    assert.equal(percentile([7], 1), 7);
  });

  it('is NaN without samples, and refuses a p outside (0, 100]', () => {
    assert.ok(Number.isNaN(percentile([], 50)));
    assert.throws(() => percentile(hundred, 0), RangeError);
    assert.throws(() => percentile(hundred, 101), RangeError);
  });
});

describe('bench latency: summarize', () => {
  it('sorts numerically, not as text', () => {
    const s = summarize([100, 9, 20, 3, 1000, 5, 40, 2, 8, 1]);
    assert.equal(s.samples, 10);
    assert.equal(s.p50_ms, 8);
    assert.equal(s.p90_ms, 100);
    assert.equal(s.p99_ms, 1000);
    assert.equal(s.max_ms, 1000);
    assert.equal(s.mean_ms, 118.8);
  });

  it('handles many samples (no argument-spreading limits)', () => {
    const many = Array.from({ length: 500_000 }, (_, i) => (i % 1000) / 10);
    const s = summarize(many);
    assert.equal(s.samples, 500_000);
    assert.equal(s.max_ms, 99.9);
    assert.equal(s.p99_ms, 98.9);
  });
});

describe('bench latency: timeline', () => {
  it('buckets by whole seconds from the first sample, keeping empty seconds', () => {
    const t = timeline([
      { at_ms: 1500, latency_ms: 2, line: 10 },
      { at_ms: 1900, latency_ms: 7.5, line: 20 },
      { at_ms: 3600, latency_ms: 120, line: 90 },
      { at_ms: 3700, latency_ms: 1, line: null },
    ]);
    assert.deepEqual(t, [
      { t_s: 0, requests: 2, max_ms: 7.5, line: 20 },
      { t_s: 1, requests: 0, max_ms: 0, line: null },
      { t_s: 2, requests: 2, max_ms: 120, line: 90 },
    ]);
    assert.deepEqual(timeline([]), []);
  });

  it('takes the earliest sample as the start even when samples come out of order', () => {
    const t = timeline([
      { at_ms: 2500, latency_ms: 3, line: 5 },
      { at_ms: 1000, latency_ms: 4, line: 1 },
    ]);
    assert.equal(t.length, 2);
    assert.equal(t[0]?.requests, 1);
    assert.equal(t[1]?.line, 5);
  });
});
