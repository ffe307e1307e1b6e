/** Options every scenario takes, and their defaults from the environment. */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SettingError, rowsFromEnv, wholeNumberFromEnv } from '../../fixtures/generate.js';
import { parseOnly } from '../peers/parse-only.js';
import { peerB } from '../peers/node-naive.js';
import { peerAMin } from '../peers/sqlite-cli-minimal.js';
import { peerA } from '../peers/sqlite-cli.js';
import type { Contestant, ContestantId } from './contestant.js';
import { defaultResultsDir, defaultWorkDir } from './paths.js';
import { sluiceContestant } from './sluice.js';

export interface ScenarioOptions {
  /** data rows of the Person feed (default BENCH_ROWS, else 1,000,000) */
  rows?: number;
  /** where fixtures are generated (default fixtures/.generated) */
  fixtureDir?: string;
  /** scratch databases (default fixtures/.generated/bench-work) */
  workDir?: string;
  /** where the JSON result goes (default bench/results); null writes none */
  resultsDir?: string | null;
  /** which contestants run (default BENCH_CONTESTANTS, else all) */
  contestants?: ContestantId[];
  /** rounds per contestant (default BENCH_REPEAT, else 1); the figures are medians */
  repeat?: number;
  /** the table (default stdout) */
  print?: (text: string) => void;
  /** progress lines (default stderr) */
  log?: (line: string) => void;
}

export interface Resolved {
  rows: number;
  fixtureDir: string | undefined;
  workDir: string;
  resultsDir: string | null;
  contestants: Contestant[];
  repeat: number;
  print: (text: string) => void;
  log: (line: string) => void;
}

export const ALL_CONTESTANTS: readonly Contestant[] = [parseOnly, sluiceContestant, peerA, peerAMin, peerB];

/** Contestants of other scenarios that BENCH_CONTESTANTS may name too: `make bench` runs them all. */
const OTHER_SCENARIOS_IDS: readonly ContestantId[] = ['peer_p'];

/** The contestants BENCH_CONTESTANTS names among `all` (undefined: it is not set). */
export function contestantsFromEnv(all: readonly Contestant[]): ContestantId[] | undefined {
  const v = process.env.BENCH_CONTESTANTS?.trim();
  if (!v) return undefined;
  const ids = v.split(',').map((s) => s.trim());
  const valid = [...new Set([...ALL_CONTESTANTS, ...all].map((c) => c.id as string).concat(OTHER_SCENARIOS_IDS))];
  const bad = ids.filter((id) => !valid.includes(id));
  if (bad.length > 0) throw new SettingError(`BENCH_CONTESTANTS: "${bad.join(',')}" is not valid (valid: ${valid.join(', ')})`);
  return ids as ContestantId[];
}

/** `all`: the scenario's contestants, which BENCH_CONTESTANTS picks from (default: the SQLite scenarios'). */
export function resolveOptions(o: ScenarioOptions, all: readonly Contestant[] = ALL_CONTESTANTS): Resolved {
  const ids = o.contestants ?? contestantsFromEnv(all);
  return {
    rows: o.rows ?? rowsFromEnv(),
    fixtureDir: o.fixtureDir,
    workDir: resolve(o.workDir ?? defaultWorkDir()),
    resultsDir: o.resultsDir === null ? null : resolve(o.resultsDir ?? defaultResultsDir()),
    contestants: ids ? all.filter((c) => ids.includes(c.id)) : [...all],
    repeat: o.repeat ?? wholeNumberFromEnv('BENCH_REPEAT', 1),
    print: o.print ?? ((t) => process.stdout.write(t)),
    log: o.log ?? ((l) => process.stderr.write(`${l}\n`)),
  };
}

/** True when the module at `url` is the script node was started with. */
export function isMain(url: string): boolean {
  return process.argv[1] !== undefined && url === pathToFileURL(resolve(process.argv[1])).href;
}

/**
 * Entry point of a runnable scenario file: a setting that is not valid is its message and
 * exit code 2; any other failure keeps its stack (it is the harness's own) and exit code 1.
 */
export function runMain(fn: () => Promise<unknown>): void {
  fn().catch((err: unknown) => {
    const setting = err instanceof SettingError;
    process.stderr.write(`bench: ${setting ? err.message : ((err as Error).stack ?? String(err))}\n`);
    process.exitCode = setting ? 2 : 1;
  });
}
