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
import type { ReferenceRun, RowFacts } from './reference.js';

export interface KnownBug {
  /** the regression test that pins it */
  test: string;
  /** whether a case meets it, from the case and the reference's account of it */
  hits(c: Case, ref: readonly ReferenceRun[]): boolean;
}

/** Whether some row of some run of the case has facts `p`: the usual shape of a predicate. */
export const someRow = (ref: readonly ReferenceRun[], p: (f: RowFacts, run: ReferenceRun, k: number) => boolean): boolean =>
  ref.some((run, k) => run.facts.some((f) => p(f, run, k)));

export const KNOWN_BUGS: readonly KnownBug[] = [];

/** The known bugs a case meets (their regression tests' names). */
export function knownBugsOf(c: Case, ref: readonly ReferenceRun[]): string[] {
  return KNOWN_BUGS.filter((b) => b.hits(c, ref)).map((b) => b.test);
}
