/**
 * The invariant of SPEC §2: the final database and the report are exactly those of
 * applying the rows one at a time in file order, whatever the batch size or worker count.
 *
 * One generated feed (duplicate keys, references to rows far back, forward references,
 * references to changed keys, ambiguities that appear and disappear during the run), then
 * a delete feed and a re-create feed, imported under several pipeline configurations into
 * identically prepared databases: reports and databases must be identical.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Sandbox, historyEntries, query } from '../helpers/cli.js';
import { type DetailsRow, type Template, csvText, detailsOf, idOf, importOk, makeTemplate, maxChangeId } from '../helpers/fixtures.js';
import { prng } from '../helpers/random.js';

const HEADER = ['id', 'source', 'source_id', 'email', 'name', 'first_name', 'org_id->name', 'manager_id->email', 'function'];
const ORGS = 'name\nIT Department\nSales\n';
const OLD = 20;

function templatePersons(): string {
  const rows = [['name', 'first_name', 'org_id->name', 'email']];
  for (let k = 0; k < OLD; k++) rows.push([`Old${k}`, 'T', 'Sales', `old${k}@x.org`]);
  rows.push(['Twin', 'One', 'Sales', 'twin@x.org'], ['Twin', 'Two', 'Sales', 'twin@x.org']);
  return csvText(rows);
}

interface Expect {
  status: string;
  /** the message must match */
  message?: RegExp;
  /** ...and must not match */
  notMessage?: RegExp;
  /** the person's manager must be the person with this email at the end of the file */
  managerId?: () => number;
}

interface Feed {
  csv: string;
  expect: Map<number, Expect>;
}

interface Feeds {
  main: Feed;
  deletes: Feed;
  recreate: Feed;
}

/** Template ids the feeds refer to. */
interface Known {
  old: number[];
  twinA: number;
  twinB: number;
}

function generate(known: Known, db: () => string): Feeds {
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

/** The details report without the lines that differ between any two runs. */
function comparable(stdout: string): string {
  return stdout
    .split('\n')
    .filter((l) => !/^#(Elapsed|Rows\/s|Peak memory|Change|Last committed line):/.test(l))
    .join('\n');
}

interface Outcome {
  reports: string[];
  details: DetailsRow[][];
  persons: unknown[];
  history: unknown[];
}

const CONFIGS: [string, string[]][] = [
  ['one worker, one record per batch', ['--workers', '1', '--frame-bytes', '1']],
  ['defaults', []],
  ['4 KB batches, two workers', ['--frame-bytes', '4096', '--workers', '2']],
  ['4 KB batches, two workers, a commit every 100 rows', ['--frame-bytes', '4096', '--workers', '2', '--chunk-size', '100']],
];

describe('sequential semantics: the same result whatever the batching (SPEC §2)', () => {
  let template: Template;
  let feeds: Feeds;
  let firstChange = 0;
  const outcomes: Outcome[] = [];
  let current: Sandbox | null = null;

  before(async () => {
    template = await makeTemplate([
      { cls: 'Organization', content: ORGS },
      { cls: 'Person', content: templatePersons() },
    ]);
    const db = template.sandbox.db;
    const twins = query<{ id: number }>(db, "SELECT id FROM Person WHERE email = 'twin@x.org' ORDER BY id").map((r) => r.id);
    assert.equal(twins.length, 2);
    const known: Known = {
      old: Array.from({ length: OLD }, (_, k) => idOf(db, 'Person', 'email', `old${k}@x.org`)),
      twinA: twins[0] as number,
      twinB: twins[1] as number,
    };
    feeds = generate(known, () => (current as Sandbox).db);
    firstChange = maxChangeId(db) + 1;
  });
  after(() => template.sandbox.cleanup());

  for (const [name, args] of CONFIGS) {
    test(`main, delete and re-create feeds with ${name}`, async () => {
      const sb = template.fresh();
      current = sb;
      try {
        const common = ['--keys', 'email', '--no-stop-on-error', '--output', 'details', ...args];
        const reports: string[] = [];
        const details: DetailsRow[][] = [];
        for (const [file, feed, action] of [
          ['main.csv', feeds.main, 'upsert'],
          ['delete.csv', feeds.deletes, 'delete'],
          ['recreate.csv', feeds.recreate, 'upsert'],
        ] as const) {
          const r = await importOk(sb, 'Person', file, feed.csv, [...common, '--action', action], 1);
          reports.push(comparable(r.stdout));
          const rows = detailsOf(r.stdout);
          details.push(rows);
          assert.equal(rows.length, feed.expect.size, `${file}: one details row per data row`);
          const wrong: string[] = [];
          for (const row of rows) {
            const e = feed.expect.get(Number(row.line));
            if (!e) wrong.push(`line ${row.line}: unexpected`);
            else if (e.status !== row.status || (e.message && !e.message.test(row.message ?? ''))) {
              wrong.push(`line ${row.line}: expected ${e.status}${e.message ? ` ${String(e.message)}` : ''}, got ${row.status} ${row.message ?? ''}`);
            }
          }
          assert.deepEqual(wrong.slice(0, 20), [], `${file}: ${wrong.length} rows differ from applying the rows one at a time`);
          for (const row of rows) {
            const e = feed.expect.get(Number(row.line)) as Expect;
            if (e.status !== 'created' || !e.managerId) continue;
            const p = query<{ manager_id: number | null }>(sb.db, 'SELECT manager_id FROM Person WHERE id = ?', Number(row.id))[0];
            assert.ok(p, `${file} line ${row.line}: person ${row.id} exists`);
            assert.equal(p.manager_id, e.managerId(), `${file} line ${row.line}: the manager of ${row.email ?? ''}`);
          }
        }
        const changes = query<{ id: number }>(sb.db, 'SELECT id FROM _sluice_change WHERE id >= ? ORDER BY id', firstChange).map((c) => c.id);
        assert.equal(changes.length, 3);
        outcomes.push({
          reports,
          details,
          persons: query(sb.db, 'SELECT * FROM Person ORDER BY id'),
          history: historyEntries(sb.db, firstChange).map((h) => ({
            ...h,
            change_id: changes.indexOf((h as { change_id: number }).change_id),
          })),
        });
      } finally {
        current = null;
        sb.cleanup();
      }
    });
  }

  test('a reference error lists only values that exist when its row is applied', () => {
    assert.equal(outcomes.length, CONFIGS.length, 'every configuration ran');
    for (const [k, o] of outcomes.entries()) {
      const stale: string[] = [];
      for (const row of o.details[0] ?? []) {
        const e = feeds.main.expect.get(Number(row.line));
        if (e?.notMessage?.test(row.message ?? '')) stale.push(`line ${row.line}: ${row.message ?? ''}`);
      }
      assert.deepEqual(stale.slice(0, 5), [], `${CONFIGS[k]?.[0] ?? ''}: ${stale.length} messages list old0@x.org, which an earlier row of the feed moved away`);
    }
  });

  test('all configurations give identical reports and databases', () => {
    assert.equal(outcomes.length, CONFIGS.length, 'every configuration ran');
    const [base, ...others] = outcomes as [Outcome, ...Outcome[]];
    const counts = base.details[0]?.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.status as string]: (acc[r.status as string] ?? 0) + 1 }), {});
    assert.ok((counts?.created ?? 0) > 1000 && (counts?.updated ?? 0) > 300 && (counts?.error ?? 0) > 50, `a realistic mix: ${JSON.stringify(counts)}`);
    for (const [k, o] of others.entries()) {
      const label = CONFIGS[k + 1]?.[0] as string;
      for (let f = 0; f < 3; f++) {
        if (o.reports[f] !== base.reports[f]) {
          const a = (base.reports[f] as string).split('\n');
          const b = (o.reports[f] as string).split('\n');
          const at = a.findIndex((l, i) => l !== b[i]);
          assert.fail(`${label}, feed ${f + 1}: the report differs from "${CONFIGS[0]?.[0]}" first at report line ${at + 1}:\n  ${a[at]}\n  ${b[at]}`);
        }
      }
      assert.deepEqual(o.persons, base.persons, `${label}: Person rows differ`);
      assert.deepEqual(o.history, base.history, `${label}: history differs`);
    }
  });
});
