/**
 * What a result was measured on — the machine and the source revision: figures from different
 * machines, or of different code, do not compare.
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import Database from 'better-sqlite3';
import { SQLITE3 } from './paths.js';
import { repoRoot } from '../../fixtures/generate.js';

export interface Machine {
  cpus: number;
  cpu_model: string;
  total_memory_bytes: number;
  platform: string;
  node: string;
  sqlite_cli: string;
  sqlite_library: string;
  /** other work on the machine skews every figure; recorded so a noisy run can be told apart */
  load_average_1m: number;
}

function sqliteCliVersion(): string {
  try {
    return execFileSync(SQLITE3, ['--version'], { encoding: 'utf8' }).trim().split(' ')[0] ?? 'unknown';
  } catch {
    return 'unavailable';
  }
}

function sqliteLibraryVersion(): string {
  const db = new Database(':memory:');
  try {
    return db.prepare('SELECT sqlite_version()').pluck().get() as string;
  } finally {
    db.close();
  }
}

export function machine(): Machine {
  const list = cpus();
  return {
    cpus: list.length,
    cpu_model: list[0]?.model.trim() ?? 'unknown',
    total_memory_bytes: totalmem(),
    platform: `${platform()} ${release()}`,
    node: process.version,
    sqlite_cli: sqliteCliVersion(),
    sqlite_library: sqliteLibraryVersion(),
    load_average_1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

/** `git describe`-like: the commit, with "+dirty" when src/ has uncommitted changes. */
export function sourceRevision(): string {
  const git = (args: string[]): string => execFileSync('git', args, { cwd: repoRoot(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const head = git(['rev-parse', '--short=12', 'HEAD']);
    return git(['status', '--porcelain', '--', 'src']) === '' ? head : `${head}+dirty`;
  } catch {
    return 'unknown';
  }
}
