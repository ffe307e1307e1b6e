/**
 * The generated feeds of the sequential-invariant suite (SPEC §2): a main feed of Person rows
 * (duplicate keys, references to rows far back, forward references, references to changed
 * keys, ambiguities that appear and disappear during the run), a delete feed and a re-create
 * feed, over a template of organizations and persons; each row with the outcome applying
 * the rows one at a time gives it.
 */
import assert from 'node:assert/strict';
import { query } from './cli.js';
import { csvText, idOf } from './fixtures.js';
import { prng } from './random.js';

export const HEADER = ['id', 'source', 'source_id', 'email', 'name', 'first_name', 'org_id->name', 'manager_id->email', 'function'];
export const ORGS = 'name\nIT Department\nSales\n';
export const OLD = 20;

export function templatePersons(): string {
  const rows = [['name', 'first_name', 'org_id->name', 'email']];
  for (let k = 0; k < OLD; k++) rows.push([`Old${k}`, 'T', 'Sales', `old${k}@x.org`]);
  rows.push(['Twin', 'One', 'Sales', 'twin@x.org'], ['Twin', 'Two', 'Sales', 'twin@x.org']);
  return csvText(rows);
}

export interface Expect {
  status: string;
  /** the message must match */
  message?: RegExp;
  /** ...and must not match */
  notMessage?: RegExp;
  /** the person's manager must be the person with this email at the end of the file */
  managerId?: () => number;
}

export interface Feed {
  csv: string;
  expect: Map<number, Expect>;
}

export interface Feeds {
  main: Feed;
  deletes: Feed;
  recreate: Feed;
}

/** Template ids the feeds refer to. */
export interface Known {
  old: number[];
  twinA: number;
  twinB: number;
}

/** The template's ids the feeds refer to, read from a database holding the template. */
export function knownOf(db: string): Known {
  const twins = query<{ id: number }>(db, "SELECT id FROM Person WHERE email = 'twin@x.org' ORDER BY id").map((r) => r.id);
  assert.equal(twins.length, 2);
  return {
    old: Array.from({ length: OLD }, (_, k) => idOf(db, 'Person', 'email', `old${k}@x.org`)),
    twinA: twins[0] as number,
    twinB: twins[1] as number,
  };
}

export function generate(known: Known, db: () => string): Feeds {
  const rnd = prng(20240611);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const byEmail = (email: string) => (): number => idOf(db(), 'Person', 'email', email);

  // ---------------------------------------------------------------- main feed
  const rows: string[][] = [HEADER];
  const expect = new Map<number, Expect>();
  const push = (cells: Partial<Record<(typeof HEADER)[number], string>>, e: Expect): number => {
    rows.push(HEADER.map((h) => cells[h] ?? ''));
    const line = rows.length; // header = line 1, no quoted line breaks
    expect.set(line, e);
    return line;
  };
  const person = (email: string, manager: string, fn: string, extra: Record<string, string> = {}) => ({
    email,
    name: `N-${email.split('@')[0]}`,
    first_name: 'F',
    'org_id->name': rnd() < 0.5 ? 'Sales' : 'IT Department',
    'manager_id->email': manager,
    function: fn,
    ...extra,
  });

  const oldCells = (k: number, fn: string) => ({ email: `old${k}@x.org`, name: `Old${k}`, first_name: 'T', 'org_id->name': 'Sales', function: fn });
  /** p-emails created so far, with their latest cells */
  const created: string[] = [];
  const cellsOf = new Map<string, Record<string, string>>();
  const managers = new Set<string>();
  const pool: string[] = [];
  for (let k = 2; k < OLD; k++) pool.push(`old${k}@x.org`);
  let n = 0;
  const createP = (manager: string): void => {
    const email = `p${n++}@x.org`;
    const cells = person(email, manager, 'new');
    push(cells, manager === '' ? { status: 'created' } : { status: 'created', managerId: byEmail(manager) });
    created.push(email);
    cellsOf.set(email, cells);
    if (manager !== '') managers.add(manager);
  };

  const scripted = new Map<number, () => void>([
    // an id row moves a template person to a new email; the old email no longer resolves
    [100, () => push({ id: String(known.old[0]), email: 'moved0@x.org', name: 'Old0', first_name: 'T', 'org_id->name': 'Sales', function: '' }, { status: 'updated' })],
    [101, () => push(person('q1@x.org', 'old0@x.org', 'x'), { status: 'error', message: /old0@x\.org/ })],
    [102, () => push(person('q2@x.org', 'moved0@x.org', 'x'), { status: 'created', managerId: () => known.old[0] as number })],
    [1500, () => push(person('q3@x.org', 'moved0@x.org', 'x'), { status: 'created', managerId: () => known.old[0] as number })],
    // the old key now matches nothing: a new object; the new key finds the moved one
    [1501, () => push(person('old0@x.org', '', 'x'), { status: 'created' })],
    [1502, () => push({ email: 'moved0@x.org', name: 'Old0', first_name: 'T', 'org_id->name': 'Sales', function: 'M' }, { status: 'updated' })],
    // source + source_id: create, change the email, reference old and new emails
    [200, () => push(person('s1@x.org', '', 'x', { source: 'feed', source_id: 'S1' }), { status: 'created' })],
    [210, () => push(person('s1new@x.org', '', 'x', { source: 'feed', source_id: 'S1' }), { status: 'updated' })],
    [211, () => push(person('q4@x.org', 's1@x.org', 'x'), { status: 'error', message: /s1@x\.org/ })],
    [1800, () => push(person('q5@x.org', 's1new@x.org', 'x'), { status: 'created', managerId: byEmail('s1new@x.org') })],
    // an ambiguity that appears during the run
    [300, () => push(person('amb@x.org', '', 'x'), { status: 'created' })],
    [301, () => push({ id: String(known.old[1]), email: 'amb@x.org', name: 'Old1', first_name: 'T', 'org_id->name': 'Sales' }, { status: 'updated' })],
    [302, () => push(person('amb@x.org', '', 'y'), { status: 'error', message: /ambiguous reconciliation: 2/ })],
    [1700, () => push(person('q6@x.org', 'amb@x.org', 'x'), { status: 'error', message: /ambiguous: 2/ })],
    // an ambiguity that disappears during the run
    [400, () => push(person('twin@x.org', '', 'x'), { status: 'error', message: /ambiguous reconciliation: 2/ })],
    [401, () => push({ id: String(known.twinA), email: 'twin-a@x.org', name: 'Twin', first_name: 'One', 'org_id->name': 'Sales' }, { status: 'updated' })],
    [402, () => push({ email: 'twin@x.org', name: 'Twin', first_name: 'Two', 'org_id->name': 'Sales', function: 'Solo' }, { status: 'updated' })],
    [2000, () => push(person('q7@x.org', 'twin@x.org', 'x'), { status: 'created', managerId: () => known.twinB })],
    // far back and duplicate keys across batches
    [2300, () => push(person('q8@x.org', 'p0@x.org', 'x'), { status: 'created', managerId: byEmail('p0@x.org') })],
    [2310, () => push({ ...(cellsOf.get('p1@x.org') as Record<string, string>), function: 'Late' }, { status: 'updated' })],
    // back to the committed value: a change all the same, then no change
    [500, () => push(oldCells(5, 'tmp'), { status: 'updated' })],
    [501, () => push(oldCells(5, ''), { status: 'updated' })],
    [502, () => push(oldCells(5, ''), { status: 'unchanged' })],
    [600, () => push(oldCells(6, 'tmp'), { status: 'updated' })],
    [1600, () => push(oldCells(6, ''), { status: 'updated' })],
    [1601, () => push(oldCells(7, ''), { status: 'unchanged' })],
    [2320, () => push(person('boss@x.org', '', 'x'), { status: 'created' })],
    [2321, () => push(person('sub@x.org', 'boss@x.org', 'x'), { status: 'created', managerId: byEmail('boss@x.org') })],
  ]);

  const TOTAL = 2400;
  for (let i = 0; i < TOTAL; i++) {
    const s = scripted.get(i);
    if (s) {
      s();
      continue;
    }
    const r = i < 2 ? 0 : rnd();
    if (r < 0.7) {
      const roll = rnd();
      const manager = roll < 0.2 || created.length === 0 ? '' : roll < 0.4 ? pick(pool) : roll < 0.6 ? (created[Math.floor(rnd() * Math.min(50, created.length))] as string) : pick(created);
      createP(manager);
    } else if (r < 0.85) {
      const email = pick(created);
      const cells = { ...(cellsOf.get(email) as Record<string, string>), function: `f${i}` };
      cellsOf.set(email, cells);
      push(cells, { status: 'updated' });
    } else if (r < 0.9) {
      // the same cells again, so nothing changes, though nothing of it is committed yet
      push(cellsOf.get(pick(created)) as Record<string, string>, { status: 'unchanged' });
    } else {
      // forward reference: the manager is created later in the file
      const ahead = `p${n + 1 + Math.floor(rnd() * 40)}@x.org`;
      const e: Expect = { status: 'error', message: new RegExp(ahead.replace(/[.@]/g, '\\$&')) };
      // old0@x.org is moved away on row 100 and created again on row 1501: in between it is no existing value
      if (i > 101 && i < 1501) e.notMessage = /existing values:[^;]*\bold0@x\.org/;
      push(person(`fw${i}@x.org`, ahead, 'x'), e);
    }
  }
  // q8's manager, added by a scripted row
  managers.add('p0@x.org');

  // ---------------------------------------------------------------- delete feed
  const del: string[][] = [['email']];
  const delExpect = new Map<number, Expect>();
  const pushDel = (email: string, e: Expect): void => {
    del.push([email]);
    delExpect.set(del.length, e);
  };
  const leaves = created.filter((e) => !managers.has(e));
  const doomed = leaves.slice(0, 120);
  pushDel('boss@x.org', { status: 'error', message: /Person\.manager_id/ });
  for (const e of doomed.slice(0, 60)) pushDel(e, { status: 'deleted' });
  pushDel('sub@x.org', { status: 'deleted' });
  pushDel('boss@x.org', { status: 'deleted' });
  pushDel('boss@x.org', { status: 'skipped' });
  pushDel('ghost@x.org', { status: 'skipped' });
  pushDel('p0@x.org', { status: 'error', message: /Person\.manager_id/ });
  pushDel('amb@x.org', { status: 'error', message: /ambiguous reconciliation: 2/ });
  for (const e of doomed.slice(60)) pushDel(e, { status: 'deleted' });
  pushDel(doomed[0] as string, { status: 'skipped' });

  // ---------------------------------------------------------------- re-create feed
  const re: string[][] = [HEADER];
  const reExpect = new Map<number, Expect>();
  const pushRe = (cells: Record<string, string>, e: Expect): void => {
    re.push(HEADER.map((h) => cells[h] ?? ''));
    reExpect.set(re.length, e);
  };
  pushRe(person('sub@x.org', 'boss@x.org', 'x'), { status: 'error', message: /boss@x\.org/ });
  pushRe(person('boss@x.org', '', 'x'), { status: 'created' });
  pushRe(person('sub@x.org', 'boss@x.org', 'x'), { status: 'created', managerId: byEmail('boss@x.org') });
  pushRe(person('r1@x.org', doomed[100] as string, 'x'), { status: 'error', message: new RegExp((doomed[100] as string).replace(/[.@]/g, '\\$&')) });
  for (const e of doomed.slice(0, 100)) pushRe({ ...(cellsOf.get(e) as Record<string, string>), 'manager_id->email': 'boss@x.org' }, { status: 'created', managerId: byEmail('boss@x.org') });
  pushRe(person('r2@x.org', doomed[5] as string, 'x'), { status: 'created', managerId: byEmail(doomed[5] as string) });
  pushRe(person('r3@x.org', 'later@x.org', 'x'), { status: 'error', message: /later@x\.org/ });
  pushRe(person('later@x.org', 'sub@x.org', 'x'), { status: 'created', managerId: byEmail('sub@x.org') });

  return {
    main: { csv: csvText(rows), expect },
    deletes: { csv: csvText(del), expect: delExpect },
    recreate: { csv: csvText(re), expect: reExpect },
  };
}
