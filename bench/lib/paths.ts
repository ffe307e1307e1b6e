/**
 * Where the compiled pieces are, relative to this file: the same code runs from dist/bench
 * (make bench) and from any other output directory the whole project is compiled into.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultFixtureDir, repoRoot } from '../../fixtures/generate.js';

export const SLUICE_CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
export const NODE_NAIVE = fileURLToPath(new URL('../peers/node-naive.js', import.meta.url));
export const LOOP_PROBE = fileURLToPath(new URL('./loop-probe.js', import.meta.url));
export const PARSE_ONLY = fileURLToPath(new URL('../peers/parse-only.js', import.meta.url));
export const SQLITE3 = process.env.BENCH_SQLITE3 ?? '/usr/bin/sqlite3';
export const PSQL = process.env.BENCH_PSQL ?? '/usr/bin/psql';

/** Results are kept with the sources (bench/results), not with the compiled output. */
export function defaultResultsDir(): string {
  return join(repoRoot(), 'bench', 'results');
}

/** Scratch databases: big, rebuilt every run, git-ignored with the fixtures. */
export function defaultWorkDir(): string {
  return join(defaultFixtureDir(), 'bench-work');
}
