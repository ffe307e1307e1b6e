/** What the scenarios need from each contestant: run on a database copy, report what it did. */
import type { Measured } from './measure.js';

/** `sluice_wN`: Sluice with N workers, in the worker-count sweep (scenarios/workers.ts) */
export type ContestantId = 'parse_only' | 'sluice' | 'sluice_sync' | 'sluice_serve' | 'sluice_log' | 'peer_a' | 'peer_a_min' | 'peer_b' | 'peer_p' | `sluice_w${number}`;

export interface RunInput {
  /** its own copy of the starting database: a file path, or a PostgreSQL URL */
  db: string;
  file: string;
  /** scratch space for scripts and logs */
  workDir: string;
}

export interface ContestantRun {
  measured: Measured;
  /** data rows the contestant says it processed, when it says */
  rows: number | null;
  /** the contestant's own report (Sluice's JSON summary, a peer's counters) */
  report: Record<string, unknown> | null;
  /** why the run is not usable (non-zero exit, unreadable report) */
  error: string | null;
}

export interface Contestant {
  id: ContestantId;
  label: string;
  /** false for the parse-only rate, which touches no database */
  usesDb: boolean;
  /** untimed: what its operator would have set up beforehand (an index a DBA creates once) */
  prepare?(db: string): void | Promise<void>;
  run(input: RunInput): Promise<ContestantRun>;
}

/** The last line of stdout that parses as a JSON object. */
export function lastJsonLine(stdout: string): Record<string, unknown> | null {
  const lines = stdout.trim().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = (lines[i] as string).trim();
    if (!l.startsWith('{')) continue;
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      // not this line
    }
  }
  return null;
}

/** The common failure description: exit status and the end of stderr. */
export function failure(m: Measured): string | null {
  if (m.exitCode === 0) return null;
  const how = m.signal ? `killed by ${m.signal}` : `exit ${m.exitCode}`;
  const tail = m.stderr.trim().split('\n').slice(-5).join(' | ');
  return `${how}${tail ? `: ${tail}` : ''}`;
}
