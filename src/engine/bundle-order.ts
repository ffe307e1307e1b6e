/**
 * The order a bundle's files run in, from the model: a file runs after the files of the
 * classes its reference columns (`org_id->name`) and link-set items point at. A pure function
 * of what each file refers to.
 *
 * A cycle (two classes whose files refer to each other) is refused, naming it: the files
 * cannot all be imported in one pass with each reference resolving, and splitting a file into
 * its rows and its references is left to the operator (import one file without the column
 * that closes the cycle, then the rest).
 */
import { SluiceError, quoted } from '../base/errors.js';
import type { ImportPlan } from '../rows/plan.js';

export interface OrderNode {
  /** the file, as messages name it */
  name: string;
  className: string;
  /** each other class the file refers to, with the columns that do */
  refersTo: Map<string, string[]>;
}

/** What a file refers to: the classes of its references and link sets, other than its own, with their columns. */
export function referencesOf(plan: ImportPlan): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (target: string, column: string): void => {
    if (target === plan.className) return;
    const list = out.get(target) ?? [];
    if (!list.includes(column)) list.push(column);
    out.set(target, list);
  };
  for (const g of plan.refs) for (const c of g.columns) add(g.target, plan.header[c] ?? g.attr);
  for (const l of plan.links) add(l.target, plan.header[l.column] ?? l.attr);
  return out;
}

/**
 * The indexes of `nodes` in the order they run: each after the nodes of the classes it refers
 * to, otherwise in the order given (so ties keep the manifest's order, or the files' names).
 * Throws, naming the cycle, when the files refer to each other in a circle.
 */
export function bundleOrder(nodes: readonly OrderNode[]): number[] {
  const byClass = new Map<string, number>();
  nodes.forEach((n, i) => byClass.set(n.className, i));
  /** deps[i]: the nodes i refers to */
  const deps = nodes.map((n) => [...n.refersTo.keys()].map((c) => byClass.get(c)).filter((j): j is number => j !== undefined));
  const done = new Array<boolean>(nodes.length).fill(false);
  const order: number[] = [];
  while (order.length < nodes.length) {
    const next = nodes.findIndex((_, i) => !done[i] && (deps[i] as number[]).every((j) => done[j]));
    if (next < 0) throw cycleError(nodes, deps, done);
    done[next] = true;
    order.push(next);
  }
  return order;
}

/** The first cycle among the nodes not yet ordered (each of them refers to another such node). */
function cycleError(nodes: readonly OrderNode[], deps: readonly number[][], done: readonly boolean[]): SluiceError {
  const start = done.findIndex((d) => !d);
  const path: number[] = [];
  const at = new Map<number, number>();
  let i = start;
  while (!at.has(i)) {
    at.set(i, path.length);
    path.push(i);
    i = (deps[i] as number[]).find((j) => !done[j]) as number;
  }
  const cycle = [...path.slice(at.get(i)), i];
  const steps = cycle.slice(0, -1).map((k, s) => {
    const n = nodes[k] as OrderNode;
    const to = nodes[cycle[s + 1] as number] as OrderNode;
    const cols = (n.refersTo.get(to.className) ?? []).map((c) => quoted(c)).join(', ');
    return `${n.name} (${n.className}) refers to ${to.className} by ${cols}`;
  });
  const names = cycle.map((k) => (nodes[k] as OrderNode).className).join(' → ');
  return new SluiceError(
    'E_USAGE',
    `--bundle: the files refer to each other in a cycle, ${names}: ${steps.join('; ')}. A bundle imports a class after the classes it refers to, so it cannot order them: import one of these files without the column that closes the cycle first, then the bundle, then that column`,
    { option: '--bundle', file: (nodes[start] as OrderNode).name },
  );
}
