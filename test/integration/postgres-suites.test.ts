/**
 * The semantic suite (SPEC §2, §4), the sequential-invariant suite and the bad-input suite
 * (SPEC §3, §9) on PostgreSQL: each of their imports, with its options, runs on an SQLite
 * database and on a PostgreSQL schema holding the same data (both made by `sluice init`,
 * the suite's template imported into both), and must give the same exit code, report and
 * messages, and, read back by `sluice export`, `sluice changes` and `sluice history`, the
 * same data. What each import must give is checked on SQLite by semantics.test.ts,
 * sequential.test.ts and bad-input.test.ts; the feeds are theirs.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { BAD_INPUTS, BAD_INPUT_TEMPLATE, MIXED_ROWS_CSV } from '../helpers/bad-inputs.js';
import { type CliResult, suiteSandboxes } from '../helpers/cli.js';
import { type Step, assertNoStack, detailsOf, statusesOf } from '../helpers/fixtures.js';
import { type Pair, pgPairs } from '../helpers/pg-pair.js';
import { usePostgres } from '../helpers/postgres.js';
import { SEMANTICS, SEMANTICS_TEMPLATE, type Scenario, type Vars } from '../helpers/semantics-feeds.js';
import { type Feeds, ORGS, generate, knownOf, templatePersons } from '../helpers/sequential-feeds.js';

const server = usePostgres();

/** A pair holding `steps` imported into both stores, compared; each test forks its own copy. */
async function templatePair(pair: () => Promise<Pair>, steps: readonly Step[]): Promise<Pair> {
  const p = await pair();
  for (const s of steps) await p.imp(s.cls, s.content, s.args ?? []);
  await p.same(true);
  return p;
}

describe('the semantic suite on PostgreSQL: what SQLite gives, import by import', { concurrency: 2 }, () => {
  const pair = pgPairs(server, { ids: false });
  const box = suiteSandboxes();
  let template: Pair;
  before(async () => {
    template = await templatePair(pair, SEMANTICS_TEMPLATE);
  });

  for (const [name, scenario] of Object.entries(SEMANTICS) as [string, Scenario][]) {
    it(name, async () => {
      const runs = Object.values(scenario.runs);
      let p: Pair;
      if (scenario.model) {
        const model = box().file('model.json', JSON.stringify(scenario.model));
        p = await pair({ init: ['--model', model], classes: [] });
      } else {
        // An import writes its class only: same() exports the classes the runs imported into.
        p = await template.fork([]);
      }
      const vars: Vars = {};
      for (const r of runs) {
        if (r.remember) Object.assign(vars, r.remember(p.sb.db));
        await p.imp(r.cls, typeof r.content === 'string' ? r.content : r.content(p.sb.db, vars), [...r.args], r.code);
      }
      await p.same();
    });
  }
});

describe('the sequential-invariant suite on PostgreSQL: SQLite\'s report and data, whatever the frames and chunks', { concurrency: 2 }, () => {
  const pair = pgPairs(server, { ids: false });
  let template: Pair;
  let feeds: Feeds;
  before(async () => {
    template = await templatePair(pair, [
      { cls: 'Organization', content: ORGS },
      { cls: 'Person', content: templatePersons() },
    ]);
    feeds = generate(knownOf(template.sb.db), () => template.sb.db);
  });

  const CONFIGS: [string, string[]][] = [
    ['200-byte frames', ['--frame-bytes', '200']],
    ['4 KB frames, a commit every 7 rows', ['--frame-bytes', '4096', '--chunk-size', '7']],
    ['the defaults', []],
  ];
  for (const [name, args] of CONFIGS) {
    it(`main, delete and re-create feeds with ${name}`, async () => {
      const p = await template.fork(['Person']);
      const common = ['--keys', 'email', '--no-stop-on-error', '--output', 'details', ...args];
      const main = await p.imp('Person', feeds.main.csv, [...common, '--action', 'upsert'], 1);
      assert.equal(detailsOf(main.stdout).length, feeds.main.expect.size, 'one details row per data row');
      await p.imp('Person', feeds.deletes.csv, [...common, '--action', 'delete'], 1);
      await p.imp('Person', feeds.recreate.csv, [...common, '--action', 'upsert'], 1);
      await p.same();
    });
  }
});

describe('the bad-input suite on PostgreSQL: SQLite\'s exit code and message, and nothing written', { concurrency: 2 }, () => {
  const pair = pgPairs(server, { ids: false });
  let template: Pair;
  before(async () => {
    template = await templatePair(pair, BAD_INPUT_TEMPLATE);
  });

  // Bad input writes nothing on SQLite (bad-input.test.ts): one copy of the template takes
  // every case of a kind in turn, and then holds the same data on both stores.
  for (const kind of ['file', 'header', 'command'] as const) {
    it(`${kind}: ${BAD_INPUTS.filter((b) => b.kind === kind).map((b) => b.name).join('; ')}`, async () => {
      const p = await template.fork(['Person']);
      for (const bad of BAD_INPUTS.filter((b) => b.kind === kind)) {
        let lite: CliResult;
        if (bad.argv) lite = await p.run(bad.argv((name, content) => p.sb.file(name, content)), bad.code, bad.name);
        else if (bad.file) lite = await p.run(['import', '--class', 'Person', '--file', bad.file(p.sb.dir), '--progress', 'none', ...bad.args], bad.code, bad.name);
        else lite = await p.imp('Person', bad.content as string | Buffer, bad.args, bad.code);
        for (const re of bad.stderr) assert.match(lite.stderr, re, bad.name);
        assertNoStack(lite.stderr);
        assertNoStack(lite.stdout);
      }
      await p.same();
    });
  }

  it('valid and invalid rows with --no-stop-on-error: exactly the valid rows, formula- and SQL-looking values verbatim', async () => {
    const p = await template.fork(['Person']);
    const r = await p.imp('Person', MIXED_ROWS_CSV, ['--keys', 'email', '--no-stop-on-error', '--output', 'details'], 1);
    assert.deepEqual(statusesOf(detailsOf(r.stdout)), [[2, 'created'], [3, 'error'], [4, 'error'], [5, 'created'], [6, 'error'], [7, 'created'], [8, 'error']]);
    await p.same();
  });
});
