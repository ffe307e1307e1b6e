/**
 * What the differential test feeds both the engine and the reference applier: a model and a
 * few import runs into one database, each a small CSV file with its options.
 */
import type { ModelFile, Scalar } from '../../src/model/types.js';

export type Action = 'upsert' | 'insert' | 'update' | 'delete';

export interface RunSpec {
  className: string;
  /** the file: the header, then one record per line (cells never need quoting) */
  lines: string[];
  /** --keys; undefined: the class's reconciliation attributes present in the file */
  keys?: string[] | undefined;
  action: Action;
  ignoreEmpty: boolean;
  /** false: --no-stop-on-error */
  stopOnError: boolean;
  /** --chunk-size; 0: one transaction */
  chunkSize: number;
  simulate: boolean;
}

export interface Case {
  model: ModelFile;
  /** imported one after the other into a database created with the model */
  runs: RunSpec[];
}

/**
 * One object as the comparison sees it: attributes by code (a password as null, '' or the
 * token of the hashing that wrote it), link sets as sorted ids.
 */
export interface DbObject {
  id: number;
  source: string | null;
  source_id: string | null;
  values: Record<string, Scalar>;
  links: Record<string, number[]>;
}

/** A database's objects, class by class in id order, with the last id each class gave. */
export type DbSnapshot = Record<string, { seq: number; objects: DbObject[] }>;

/** The file of a run, as the engine reads it. */
export function csvOf(run: RunSpec): string {
  return run.lines.map((l) => `${l}\n`).join('');
}

/** The options of a run as `sluice import` takes them (for the descriptions of failing cases). */
export function commandLine(run: RunSpec): string {
  const args = ['--class', run.className];
  if (run.keys !== undefined) args.push('--keys', run.keys.join(','));
  if (run.action !== 'upsert') args.push('--action', run.action);
  if (run.ignoreEmpty) args.push('--ignore-empty');
  if (!run.stopOnError) args.push('--no-stop-on-error');
  if (run.chunkSize > 0) args.push('--chunk-size', String(run.chunkSize));
  if (run.simulate) args.push('--simulate');
  return `sluice import ${args.join(' ')}`;
}

/**
 * A case as TypeScript source that regressions.test.ts takes as it is: a failing case,
 * shrunk, is printed this way, so it can be pasted into a named regression test.
 */
export function describeCase(c: Case): string {
  const runs = c.runs.map((r) => {
    const opts = [
      `className: ${JSON.stringify(r.className)}`,
      ...(r.keys !== undefined ? [`keys: ${JSON.stringify(r.keys)}`] : []),
      `action: ${JSON.stringify(r.action)}`,
      `ignoreEmpty: ${r.ignoreEmpty}`,
      `stopOnError: ${r.stopOnError}`,
      `chunkSize: ${r.chunkSize}`,
      `simulate: ${r.simulate}`,
    ];
    const lines = r.lines.map((l) => `        ${JSON.stringify(l)},`).join('\n');
    return `    // ${commandLine(r)}\n    {\n      ${opts.join(', ')},\n      lines: [\n${lines}\n      ],\n    },`;
  });
  return `{\n  model: ${JSON.stringify(c.model)},\n  runs: [\n${runs.join('\n')}\n  ],\n}`;
}
