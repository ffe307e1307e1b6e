/**
 * The model-based differential test (SPEC §2): generated models and import runs go through
 * the engine and through the reference applier (reference.ts), which applies the rows one
 * at a time in file order; exit codes, reports row for row and databases must be identical.
 *
 * Every case runs under each STAGE_CONFIGS configuration (the engine's stages on this
 * thread, pipeline.ts), and every THREADS_EVERY-th case also through runImport itself,
 * under each THREAD_CONFIGS configuration in turn. Cases meeting a known, open engine bug
 * (known-bugs.ts) are left out and counted.
 *
 * CI runs a fixed seed. SLUICE_FUZZ=N runs N cases instead (a long run), from
 * SLUICE_FUZZ_SEED when given, else from a seed of its own, which a failure prints. A failure
 * prints the case fast-check shrank it to, as source for a regression test.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { describeCase } from './case.js';
import { checkCase, failureText } from './check.js';
import { type EngineConfig, STAGE_CONFIGS, THREAD_CONFIGS } from './engine.js';
import { caseArb } from './generators.js';

const CI_CASES = 300;
const CI_SEED = 20_240_917;
const THREADS_EVERY = 10;

const fuzz = Number(process.env.SLUICE_FUZZ ?? 0);
const numRuns = Number.isInteger(fuzz) && fuzz > 0 ? fuzz : CI_CASES;
const seed = process.env.SLUICE_FUZZ_SEED !== undefined ? Number(process.env.SLUICE_FUZZ_SEED) : fuzz > 0 ? Date.now() % 2 ** 31 : CI_SEED;

test(`engine and reference applier agree on ${numRuns} generated cases (seed ${seed})`, async (t) => {
  let cases = 0;
  let threaded = 0;
  const left = new Map<string, number>();
  /** once a case fails: the configuration shrinking keeps to */
  let focus: EngineConfig[] | null = null;
  const started = performance.now();
  const property = fc.asyncProperty(caseArb, async (c) => {
    const k = cases++;
    let configs: readonly EngineConfig[] = STAGE_CONFIGS;
    if (focus) configs = focus;
    else if (k % THREADS_EVERY === 0) {
      configs = [...STAGE_CONFIGS, THREAD_CONFIGS[(k / THREADS_EVERY) % THREAD_CONFIGS.length] as EngineConfig];
      threaded++;
    }
    const v = await checkCase(c, configs);
    for (const b of v.knownBugs) left.set(b, (left.get(b) ?? 0) + 1);
    // A long run says how far it is, and when it starts shrinking a failure.
    if (fuzz > 0 && !focus && cases % 250 === 0) process.stderr.write(`differential: ${cases} cases, ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
    if (v.failures.length > 0) {
      if (fuzz > 0 && !focus) process.stderr.write(`differential: case ${cases} fails (${v.failures.map((f) => f.config).join('; ')}); shrinking\n`);
      // Shrinking keeps to one configuration that failed, the fastest: a stage one when there is one.
      const failed = configs.filter((cfg) => v.failures.some((f) => f.config === cfg.name));
      focus ??= [failed.find((cfg) => cfg.driver === 'stages') ?? (failed[0] as EngineConfig)];
      throw new Error(failureText(v));
    }
  });
  const out = await fc.check(property, { numRuns, seed });
  const seconds = (performance.now() - started) / 1000;
  t.diagnostic(`${cases} cases in ${seconds.toFixed(1)} s (${((seconds * 1000) / Math.max(cases, 1)).toFixed(0)} ms a case), ${threaded} of them through runImport too`);
  for (const [bug, n] of left) t.diagnostic(`left out ${n}: known bug "${bug}"`);
  if (out.failed) {
    const counterexample = out.counterexample?.[0];
    assert.fail(
      `the engine and the reference applier disagree (seed ${out.seed}, path ${JSON.stringify(out.counterexamplePath)}, ${out.numShrinks} shrinks).\n` +
        `Shrunk case, for regressions.test.ts:\n${counterexample ? describeCase(counterexample) : '(none)'}\n\n${out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance)}`,
    );
  }
});
