import type { SerializedError } from '../engine/errors.js';
import type { ResolvedChunk } from '../resolve/protocol.js';
import type { Counts } from '../report/types.js';
import type { ImportPlan } from '../rows/plan.js';
import type { AppliedChunk, RunInfo } from './apply.js';

export interface WriterConfig {
  dbPath: string;
  plan: ImportPlan;
  run: RunInfo;
  /** lookup tuples (class, columns) that need an index before the run */
  indexes: { cls: string; cols: string[] }[];
}

export type ToWriter =
  | { type: 'chunk'; chunk: ResolvedChunk; linesSoFar: number }
  | { type: 'finish'; ok: boolean; outcome: string; lines: number };

export type FromWriter =
  | { type: 'ready'; change: number }
  | { type: 'applied'; result: AppliedChunk }
  | { type: 'finished'; change: number | null; counts: Counts; lastCommittedLine: number | null }
  | { type: 'failed'; error: SerializedError };
