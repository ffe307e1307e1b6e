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
import { type DetailsRow, type Template, detailsOf, importOk, makeTemplate, maxChangeId } from '../helpers/fixtures.js';
import { type Expect, type Feeds, ORGS, generate, knownOf, templatePersons } from '../helpers/sequential-feeds.js';

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
    feeds = generate(knownOf(db), () => (current as Sandbox).db);
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
