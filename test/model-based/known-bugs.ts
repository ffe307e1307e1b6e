/**
 * Engine bugs the differential test has found and that are not fixed yet. Each has a
 * regression test of that name in regressions.test.ts (marked todo while it fails), and a
 * predicate that tells whether a generated case takes the shape that meets it: the
 * differential test leaves such cases out, so that CI stays green while the bug is open
 * and every other case is still checked. Once a bug is fixed, delete its entry here: the
 * generated cases of its shape are checked again.
 *
 * The predicates read what the reference applier noted while it applied the case
 * (reference.ts RowFacts); they err on the side of leaving a case out, never of keeping
 * one that meets the bug.
 */
import type { Case } from './case.js';
import type { PlanFacts, ReferenceRun, RowFacts } from './reference.js';

export interface KnownBug {
  /** the regression test that pins it */
  test: string;
  /** whether a case meets it, from the case and the reference's account of it */
  hits(c: Case, ref: readonly ReferenceRun[]): boolean;
}

const someRow = (ref: readonly ReferenceRun[], p: (f: RowFacts, run: ReferenceRun, k: number) => boolean): boolean =>
  ref.some((run, k) => run.facts.some((f) => p(f, run, k)));

/** A run whose records are matched by fingerprint (resolve/fingerprint.ts fingerprintsApply). */
function fingerprinted(c: Case, k: number, plan: PlanFacts | null): boolean {
  const run = c.runs[k];
  return plan !== null && run !== undefined && (run.action === 'upsert' || run.action === 'update') && plan.keys.length > 0 && !plan.selfRef && !plan.selfLink;
}

/** The same record, under the same header and options, in an earlier run of the case or earlier in this run. */
function seenBefore(c: Case, k: number, f: RowFacts): boolean {
  const run = c.runs[k];
  if (!run) return false;
  const same = (r: (typeof c.runs)[number]): boolean =>
    r.className === run.className && r.lines[0] === run.lines[0] && JSON.stringify(r.keys) === JSON.stringify(run.keys) && r.action === run.action && r.ignoreEmpty === run.ignoreEmpty;
  if (c.runs.slice(0, k).some((r) => same(r) && r.lines.slice(1).includes(f.record))) return true;
  return run.lines.slice(1, f.line - 1).includes(f.record);
}

export const KNOWN_BUGS: readonly KnownBug[] = [
  {
    // A row matched by id or by source + source_id whose reference into its own class
    // resolves, when the row is applied, to another object than in the committed state the
    // workers read: the writer re-resolves it, then trusts the workers' "nothing changed".
    test: 'a self-reference re-resolved during the run is kept when the row matches by source or id',
    hits: (_c, ref) => someRow(ref, (f) => (f.matchBy === 'id' || f.matchBy === 'source') && f.staleSelfRef),
  },
  {
    // A record matched by fingerprint is reported unchanged without looking at its key:
    // another object that took the key since (earlier in the run, or in an earlier run)
    // goes unnoticed.
    test: 'a fingerprint hit does not skip the ambiguity check',
    hits: (c, ref) => someRow(ref, (f, run, k) => f.ambiguousKeys && fingerprinted(c, k, run.plan) && seenBefore(c, k, f)),
  },
  {
    // Link items naming objects of the imported class are resolved by the workers only,
    // against committed state: objects created or changed earlier in the run are missed.
    test: 'a link set into the imported class sees the objects the run created or changed before it',
    hits: (_c, ref) => someRow(ref, (f) => f.staleSelfLink),
  },
  {
    // <NULL> in a password column is compared with no stored value: the update reports the
    // password changed even when it was null already.
    test: 'a <NULL> password on a null password is unchanged',
    hits: (_c, ref) => someRow(ref, (f) => f.nullPasswordOnNull),
  },
  {
    // The workers decide whether a row's key is empty, from the values they resolved: a key
    // given by a reference into the imported class that they could not resolve counts as
    // empty, and the row gets the warning, whether the writer then resolves it or not.
    test: 'a key given by a reference into the imported class is not empty when the workers cannot resolve it',
    hits: (_c, ref) => someRow(ref, (f) => f.matchBy === 'keys' && f.workersMissSelfKey),
  },
];

/** The known bugs a case meets (their regression tests' names). */
export function knownBugsOf(c: Case, ref: readonly ReferenceRun[]): string[] {
  return KNOWN_BUGS.filter((b) => b.hits(c, ref)).map((b) => b.test);
}
