/**
 * The comparison at the heart of the differential test: for each run of a case, the engine
 * and the reference applier must give the same exit code, the same report row for row
 * (status, id, changed attributes, message, warnings), the same counts, and leave the same
 * database behind.
 */
import { isDeepStrictEqual } from 'node:util';
import { type Case, type DbSnapshot, commandLine } from './case.js';
import { type EngineConfig, type EngineRun, runEngine } from './engine.js';
import { knownBugsOf } from './known-bugs.js';
import { type ReferenceRun, type RowReport, runReference } from './reference.js';

/**
 * Password values as tokens in order of first appearance, run after run: the engine stores
 * salted hashes, the reference the count of hashings, and what must agree is which objects
 * hold a password, and when a password was written again.
 */
function normalizePasswords(c: Case, snapshots: DbSnapshot[]): DbSnapshot[] {
  const tokens = new Map<unknown, string>();
  return snapshots.map((snap) => {
    const out: DbSnapshot = {};
    for (const [cls, { seq, objects }] of Object.entries(snap)) {
      const attrs = c.model.classes[cls]?.attributes ?? {};
      out[cls] = {
        seq,
        objects: objects.map((o) => {
          const values = { ...o.values };
          for (const [code, a] of Object.entries(attrs)) {
            const v = values[code];
            if (a.type !== 'password' || v === null || v === '' || v === undefined) continue;
            let t = tokens.get(v);
            if (t === undefined) tokens.set(v, (t = `<password ${tokens.size + 1}>`));
            values[code] = t;
          }
          return { ...o, values };
        }),
      };
    }
    return out;
  });
}

function rowText(r: RowReport | undefined): string {
  if (!r) return '(no row)';
  const parts = [`line ${r.line}`, r.status];
  if (r.id !== null) parts.push(`id ${r.id}`);
  if (r.changed) parts.push(`changed ${r.changed.join(',')}`);
  if (r.message) parts.push(JSON.stringify(r.message));
  if (r.warnings) parts.push(`warnings ${JSON.stringify(r.warnings)}`);
  return parts.join(', ');
}

function sameRow(a: RowReport | undefined, b: RowReport | undefined): boolean {
  if (!a || !b) return a === b;
  return a.line === b.line && a.status === b.status && a.id === b.id && isDeepStrictEqual(a.changed, b.changed) && a.message === b.message && isDeepStrictEqual(a.warnings, b.warnings);
}

/** Where the database differs, one object at a time. */
function snapshotDiff(expected: DbSnapshot, actual: DbSnapshot): string[] {
  const out: string[] = [];
  for (const cls of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
    const e = expected[cls];
    const a = actual[cls];
    if (!e || !a) {
      out.push(`class ${cls}: ${e ? 'missing' : 'unexpected'}`);
      continue;
    }
    if (e.seq !== a.seq) out.push(`${cls}: last id given: expected ${e.seq}, got ${a.seq}`);
    const ids = [...new Set([...e.objects.map((o) => o.id), ...a.objects.map((o) => o.id)])].sort((x, y) => x - y);
    for (const id of ids) {
      const eo = e.objects.find((o) => o.id === id);
      const ao = a.objects.find((o) => o.id === id);
      if (!isDeepStrictEqual(eo, ao)) out.push(`${cls} ${id}: expected ${JSON.stringify(eo ?? null)}, got ${JSON.stringify(ao ?? null)}`);
    }
  }
  return out;
}

/** The differences between the engine's runs and the reference's, as sentences; empty when they agree. */
export function compareRuns(c: Case, expected: readonly ReferenceRun[], actual: readonly EngineRun[]): string[] {
  const out: string[] = [];
  const expectedSnaps = normalizePasswords(c, expected.map((r) => r.snapshot));
  const actualSnaps = normalizePasswords(c, actual.map((r) => r.snapshot));
  for (let k = 0; k < c.runs.length; k++) {
    const e = expected[k] as ReferenceRun;
    const a = actual[k] as EngineRun;
    const where = `run ${k + 1} (${commandLine(c.runs[k] as Case['runs'][number])})`;
    const diffs: string[] = [];
    if (e.exitCode !== a.exitCode) diffs.push(`exit code: expected ${e.exitCode}, got ${a.exitCode}${a.stop ? ` (${a.stop})` : ''}${a.usage ? ` (${a.usage})` : ''}`);
    if ((e.usage === null) !== (a.usage === null)) diffs.push(`usage error: expected ${e.usage ?? 'none'}, got ${a.usage ?? 'none'}`);
    const n = Math.max(e.rows.length, a.rows.length);
    for (let i = 0; i < n; i++) {
      if (!sameRow(e.rows[i], a.rows[i])) diffs.push(`row: expected ${rowText(e.rows[i])}\n           got ${rowText(a.rows[i])}`);
    }
    const last = e.rows[e.rows.length - 1];
    const stop = e.exitCode === 3 && last ? `line ${last.line}: ${last.message ?? ''}` : null;
    if (stop !== a.stop) diffs.push(`stopped: expected ${JSON.stringify(stop)}, got ${JSON.stringify(a.stop)}`);
    if (!isDeepStrictEqual(e.counts, a.counts)) diffs.push(`counts: expected ${JSON.stringify(e.counts)}, got ${JSON.stringify(a.counts)}`);
    if (!isDeepStrictEqual(e.rolledBack, a.rolledBack)) diffs.push(`rolled back: expected ${JSON.stringify(e.rolledBack)}, got ${JSON.stringify(a.rolledBack)}`);
    if (e.lastCommittedLine !== a.lastCommittedLine) diffs.push(`last committed line: expected ${e.lastCommittedLine}, got ${a.lastCommittedLine}`);
    if (e.dataLines !== a.dataLines) diffs.push(`data lines: expected ${e.dataLines}, got ${a.dataLines}`);
    diffs.push(...snapshotDiff(expectedSnaps[k] as DbSnapshot, actualSnaps[k] as DbSnapshot).map((d) => `database: ${d}`));
    if (diffs.length > 0) {
      out.push(`${where}:\n  ${diffs.join('\n  ')}`);
      // Later runs start from a different database: their differences say nothing new.
      break;
    }
  }
  return out;
}

export interface CaseVerdict {
  /** the known bugs the case meets (it is then not compared) */
  knownBugs: string[];
  /** per configuration that disagreed with the reference: what differs */
  failures: { config: string; diffs: string[] }[];
}

/** Run a case through the reference and the engine under each configuration, and compare. */
export async function checkCase(c: Case, configs: readonly EngineConfig[], opts: { skipKnownBugs: boolean } = { skipKnownBugs: true }): Promise<CaseVerdict> {
  const expected = runReference(c);
  const knownBugs = knownBugsOf(c, expected);
  const verdict: CaseVerdict = { knownBugs, failures: [] };
  if (knownBugs.length > 0 && opts.skipKnownBugs) return verdict;
  for (const cfg of configs) {
    const diffs = compareRuns(c, expected, await runEngine(c, cfg));
    if (diffs.length > 0) verdict.failures.push({ config: cfg.name, diffs });
  }
  return verdict;
}

/** A verdict's failures as one message. */
export function failureText(v: CaseVerdict): string {
  return v.failures.map((f) => `${f.config}:\n${f.diffs.join('\n')}`).join('\n\n');
}
