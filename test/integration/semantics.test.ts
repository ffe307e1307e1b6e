/**
 * Import semantics (SPEC §2) and the command line's reports (SPEC §4), point by point,
 * through the built CLI against a prepared cmdb database.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Sandbox, query, runCli, sandbox, summaryOf } from '../helpers/cli.js';
import {
  type DetailsRow,
  type Template,
  assertNoStack,
  assertUntouched,
  assertNothingWritten,
  changedOf,
  countOf,
  detailsOf,
  historyOf,
  idOf,
  makeTemplate,
  maxChangeId,
  personByEmail,
  rowAt,
  snapshot,
  statusesOf,
} from '../helpers/fixtures.js';
import { REPORTED_CSV, SEMANTICS as S, SEMANTICS_TEMPLATE, type Vars, play } from '../helpers/semantics-feeds.js';

function person(sb: Sandbox, id: number): Record<string, unknown> {
  const rows = query(sb.db, 'SELECT * FROM Person WHERE id = ?', id);
  assert.equal(rows.length, 1, `no Person ${id}`);
  return rows[0] as Record<string, unknown>;
}

function messageOf(rows: readonly DetailsRow[], line: number): string {
  return rowAt(rows, line).message as string;
}

describe('import semantics (SPEC §2)', () => {
  let template: Template;
  const ids = { it: 0, sales: 0, support: 0 };

  before(async () => {
    template = await makeTemplate(SEMANTICS_TEMPLATE);
    const db = template.sandbox.db;
    ids.it = idOf(db, 'Organization', 'name', 'IT Department');
    ids.sales = idOf(db, 'Organization', 'name', 'Sales');
    ids.support = idOf(db, 'Organization', 'name', 'Support');
    assert.equal(countOf(db, 'Organization'), 5);
    assert.equal(countOf(db, 'Location'), 3, 'Location reconciles on name + org_id: two HQs in two organizations');
    assert.equal(countOf(db, 'Person'), 5);
  });
  after(() => template.sandbox.cleanup());

  describe('columns', () => {
    test('the header names attributes by code or by label, case-insensitively', async () => {
      const sb = template.fresh();
      try {
        const r = await play(sb, S.byLabel.runs.p);
        assert.equal(summaryOf(r.stdout)['Reconciliation Keys'], 'email');
        assert.deepEqual(statusesOf(detailsOf(r.stdout)), [[2, 'created']]);
        const p = personByEmail(sb.db, 'dan@x.org');
        assert.deepEqual(
          [p.name, p.first_name, p.org_id, p.mobile_phone, p.notify, p.status],
          ['Delta', 'Dan', ids.sales, '555', 'no', 'inactive'],
        );
      } finally {
        sb.cleanup();
      }
    });

    test('several attr->sub columns on one reference are ANDed', async () => {
      const sb = template.fresh();
      try {
        const r = await play(sb, S.andedSubColumns.runs.p);
        const rows = detailsOf(r.stdout);
        assert.deepEqual(statusesOf(rows), [[2, 'created'], [3, 'created'], [4, 'error'], [5, 'created']]);
        const loc = (name: string, org: number): number =>
          (query<{ id: number }>(sb.db, 'SELECT id FROM Location WHERE name = ? AND org_id = ?', name, org)[0] as { id: number }).id;
        assert.equal(personByEmail(sb.db, 'eve@x.org').location_id, loc('HQ', ids.sales));
        assert.equal(personByEmail(sb.db, 'fay@x.org').location_id, loc('HQ', ids.it));
        assert.equal(personByEmail(sb.db, 'hal@x.org').location_id, loc('Annex', ids.sales));
        assert.match(messageOf(rows, 4), /HQ/);
        assert.equal(query(sb.db, "SELECT id FROM Person WHERE email = 'gil@x.org'").length, 0);
      } finally {
        sb.cleanup();
      }
    });

    test('a plain reference column holds the referenced object id', async () => {
      const sb = template.fresh();
      try {
        const r = await play(sb, S.plainReference.runs.p);
        const rows = detailsOf(r.stdout);
        assert.deepEqual(statusesOf(rows), [[2, 'created'], [3, 'error']]);
        assert.equal(personByEmail(sb.db, 'lou@x.org').org_id, ids.support);
        assert.match(messageOf(rows, 3), /9999/);
      } finally {
        sb.cleanup();
      }
    });

    test('unknown column, class or key: exit 2 before any row, naming the valid choices, nothing written', async () => {
      const sb = template.fresh();
      try {
        const before = snapshot(sb.db);
        const col = await play(sb, S.unknownNames.runs.col);
        assert.equal(col.code, 2, col.stderr);
        assert.match(col.stderr, /shoe_size/);
        assert.match(col.stderr, /first_name/, 'names the valid columns');
        assert.match(col.stderr, /email/);
        assertNoStack(col.stderr);

        const sub = await play(sb, S.unknownNames.runs.sub);
        assert.equal(sub.code, 2, sub.stderr);
        assert.match(sub.stderr, /nickname/);
        assert.match(sub.stderr, /name/);

        const cls = await play(sb, S.unknownNames.runs.cls);
        assert.equal(cls.code, 2, cls.stderr);
        assert.match(cls.stderr, /Persons/);
        assert.match(cls.stderr, /Person/);
        assert.match(cls.stderr, /Organization/, 'names the valid classes');
        assertNoStack(cls.stderr);

        const key = await play(sb, S.unknownNames.runs.key);
        assert.equal(key.code, 2, key.stderr);
        assert.match(key.stderr, /badge/);
        assert.match(key.stderr, /email/, 'names the valid keys');
        assertNoStack(key.stderr);

        assertUntouched(sb.db, before);
      } finally {
        sb.cleanup();
      }
    });
  });

  describe('finding the existing object', () => {
    test('id first, then source + source_id, then the keys; ambiguous and missing matches are row errors', async () => {
      const sb = template.fresh();
      try {
        const alpha = idOf(sb.db, 'Person', 'email', 'ann@x.org');
        const bravo = idOf(sb.db, 'Person', 'email', 'bob@x.org');
        const charlie = idOf(sb.db, 'Person', 'email', 'cid@x.org');
        const r = await play(sb, S.matchOrder.runs.p);
        const rows = detailsOf(r.stdout);
        assert.deepEqual(statusesOf(rows), [[2, 'updated'], [3, 'updated'], [4, 'updated'], [5, 'created'], [6, 'error'], [7, 'error']]);
        assert.equal(rowAt(rows, 2).id, String(alpha), 'the id column wins over the key');
        assert.equal(rowAt(rows, 3).id, String(charlie));
        assert.equal(rowAt(rows, 4).id, String(bravo), 'source + source_id win over the key');
        assert.deepEqual(changedOf(rowAt(rows, 2)), ['email', 'function']);
        assert.deepEqual(changedOf(rowAt(rows, 3)), ['function']);
        assert.deepEqual(changedOf(rowAt(rows, 4)), ['email', 'function']);
        assert.match(messageOf(rows, 6), /ambiguous reconciliation: 2 objects match/);
        assert.match(messageOf(rows, 7), /99999/);

        assert.deepEqual([person(sb, alpha).email, person(sb, alpha).function], ['zed@x.org', 'ById']);
        assert.deepEqual([person(sb, charlie).email, person(sb, charlie).function], ['cid@x.org', 'ByKey']);
        assert.deepEqual([person(sb, bravo).email, person(sb, bravo).function], ['cid@x.org', 'BySource']);
        const x = personByEmail(sb.db, 'xray@x.org');
        assert.equal(x.source, 'other', 'source without source_id falls back to the keys');
        assert.equal(countOf(sb.db, 'Person'), 6);
      } finally {
        sb.cleanup();
      }
    });
    test('an id is never given twice: after a delete, an id-based update of the deleted id finds nothing', async () => {
      const sb = template.fresh();
      try {
        const runs = S.idNeverGivenTwice.runs;
        const vars: Vars = {};
        await play(sb, runs.a, vars);
        const lima = idOf(sb.db, 'Organization', 'name', 'Lima');
        await play(sb, runs.d, vars);
        assert.equal(vars.lima, lima);
        await play(sb, runs.b, vars);
        const mike = idOf(sb.db, 'Organization', 'name', 'Mike');
        assert.ok(mike > lima, `the new object gets a new id (${mike}), not the deleted one's (${lima})`);
        const r = await play(sb, runs.u, vars);
        assert.deepEqual(statusesOf(detailsOf(r.stdout)), [[2, 'error']]);
        assert.notEqual(query(sb.db, 'SELECT code FROM Organization WHERE id = ?', mike)[0]?.code, 'LIM', 'Mike is untouched');
      } finally {
        sb.cleanup();
      }
    });
  });

  describe('references', () => {
    test('not found names the value and up to three existing values; several matches are ambiguous; empty mandatory is an error', async () => {
      const sb = template.fresh();
      try {
        const r = await play(sb, S.references.runs.p);
        const rows = detailsOf(r.stdout);
        assert.deepEqual(statusesOf(rows), [[2, 'error'], [3, 'error'], [4, 'error'], [5, 'created'], [6, 'error']]);
        assert.match(messageOf(rows, 2), /ambiguous: 2 /);
        const notFound = messageOf(rows, 3);
        assert.match(notFound, /Nowhere Inc/);
        const orgNames = ['IT Department', 'Sales', 'Support', 'Twin'];
        const listed = orgNames.filter((n) => notFound.includes(n));
        assert.ok(listed.length >= 1 && listed.length <= 3, `lists one to three existing values: ${notFound}`);
        assert.match(messageOf(rows, 4), /ambiguous: 2 /, 'HQ exists in two organizations');
        assert.match(messageOf(rows, 6), /org_id/);
        assert.equal(personByEmail(sb.db, 'jo@x.org').location_id, idOf(sb.db, 'Location', 'name', 'Annex'));
        assert.equal(countOf(sb.db, 'Person'), 6);
      } finally {
        sb.cleanup();
      }
    });
  });

  describe('link sets', () => {
    test('items by | or line breaks, in both syntaxes; unknown items are errors; the set is replaced as a whole', async () => {
      const sb = template.fresh();
      try {
        const r = await play(sb, S.linkSets.runs.u);
        const rows = detailsOf(r.stdout);
        assert.deepEqual(statusesOf(rows), [[2, 'created'], [3, 'created'], [5, 'error'], [6, 'created']]);
        assert.match(messageOf(rows, 5), /No Such Profile/);
        const profiles = (login: string): string[] =>
          query<{ name: string }>(
            sb.db,
            'SELECT p.name FROM UserLocal u JOIN UserLocal_profile_list l ON l.from_id = u.id JOIN Profile p ON p.id = l.to_id WHERE u.login = ? ORDER BY p.name',
            login,
          ).map((x) => x.name);
        assert.deepEqual(profiles('u1'), ['Portal user', 'Support Agent']);
        assert.deepEqual(profiles('u2'), ['Problem Manager', 'Service Desk Agent']);
        assert.deepEqual(profiles('u4'), ['Administrator', 'Change Approver']);
        assert.equal(query(sb.db, "SELECT id FROM UserLocal WHERE login = 'u3'").length, 0);

        const r2 = await play(sb, S.linkSets.runs.u2);
        const rows2 = detailsOf(r2.stdout);
        assert.deepEqual(statusesOf(rows2), [[2, 'updated'], [3, 'unchanged']]);
        assert.deepEqual(changedOf(rowAt(rows2, 2)), ['profile_list']);
        assert.deepEqual(profiles('u1'), ['Document author'], 'the old items are gone');
        assert.deepEqual(profiles('u4'), ['Administrator', 'Change Approver']);
      } finally {
        sb.cleanup();
      }
    });
  });

  describe('values', () => {
    test('trimming, quoting, <NULL> versus empty, enums, integers and ISO dates (cmdb Server)', async () => {
      const sb = template.fresh();
      try {
        const r = await play(sb, S.serverValues.runs.s);
        const rows = detailsOf(r.stdout);
        assert.deepEqual(statusesOf(rows), [[2, 'created'], [3, 'created'], [4, 'error'], [5, 'error'], [6, 'error'], [7, 'error']]);
        const s1 = query<Record<string, unknown>>(sb.db, "SELECT * FROM Server WHERE name = 'srv1'")[0];
        assert.ok(s1, 'unquoted cells are trimmed: the name is srv1');
        assert.equal(s1.brand, 'Dell');
        assert.equal(s1.model, '  R740  ', 'quoted cells keep their blanks');
        assert.equal(s1.nb_u, 42);
        assert.equal(s1.move2production, '2024-03-05');
        assert.equal(s1.business_criticity, 'high', 'enum code, case-insensitive');
        const s2 = query<Record<string, unknown>>(sb.db, "SELECT * FROM Server WHERE name = 'srv2'")[0] as Record<string, unknown>;
        assert.equal(s2.brand, null, '<NULL> is an explicit null');
        assert.equal(s2.model, '', 'an empty cell is an empty value');
        assert.equal(s2.move2production, null);
        assert.equal(s2.business_criticity, 'medium', 'enum label, case-insensitive');
        assert.match(messageOf(rows, 4), /4\.5/);
        assert.match(messageOf(rows, 5), /2024-02-30/);
        const enumMsg = messageOf(rows, 6);
        assert.match(enumMsg, /urgent/);
        for (const v of ['high', 'medium', 'low']) assert.ok(enumMsg.includes(v), `lists the allowed value ${v}: ${enumMsg}`);
        assert.match(messageOf(rows, 7), /12x/);
      } finally {
        sb.cleanup();
      }
    });

    test('booleans, decimals, dates and date formats (PHP and strftime); a code wins over a label', async () => {
      const sb = sandbox();
      try {
        const init = await runCli(['init', '--db', sb.db, '--model', sb.file('model.json', JSON.stringify(S.gadgetValues.model))]);
        assert.equal(init.code, 0, init.stderr);

        // "Name" is the code of name and the label of title, "Title" the other way round: codes win.
        const r = await play(sb, S.gadgetValues.runs.g);
        const rows = detailsOf(r.stdout);
        const errors = statusesOf(rows).filter(([, s]) => s === 'error').map(([l]) => l);
        assert.deepEqual(errors, [10, 11, 12]);
        const g = (name: string): Record<string, unknown> => {
          const found = query<Record<string, unknown>>(sb.db, 'SELECT * FROM Gadget WHERE name = ?', name);
          assert.equal(found.length, 1, `one Gadget named ${name}`);
          return found[0] as Record<string, unknown>;
        };
        const g1 = g('g1');
        assert.equal(g1.title, 'first');
        assert.equal(g1.price, 3.14);
        assert.equal(g1.born, '2024-03-05');
        assert.match(String(g1.seen), /^2024-03-05[ T]14:30(:00)?$/);
        const bools = ['g1', 'g2', 'g3', 'g4', 'g5', 'g6', 'g7', 'g8'].map((n) => g(n).active);
        assert.deepEqual(bools, [1, 0, 1, 0, 1, 0, 1, 0]);
        assert.equal(g('g2').price, -2);
        assert.match(String(g('g2').seen), /^2024-03-05[ T]08:00(:00)?$/);
        assert.match(messageOf(rows, 10), /maybe/);
        assert.match(messageOf(rows, 11), /3,14/);
        assert.match(messageOf(rows, 12), /2024-13-01/);

        const php = await play(sb, S.gadgetValues.runs.php);
        assert.equal(summaryOf(php.stdout)['Date format'], 'd/m/Y');
        assert.deepEqual(statusesOf(detailsOf(php.stdout)), [[2, 'created'], [3, 'error']]);
        assert.equal(g('h1').born, '2024-03-05');
        assert.equal(g('h1').active, 1, 'an absent column takes the default on create');

        const strf = await play(sb, S.gadgetValues.runs.strf);
        assert.deepEqual(statusesOf(detailsOf(strf.stdout)), [[2, 'created']]);
        assert.equal(g('i1').born, '2023-08-07');
        assert.equal(countOf(sb.db, 'Gadget'), 11);
      } finally {
        sb.cleanup();
      }
    });

    test('mandatory missing on create is an error; absent columns take defaults on create and stay untouched on update', async () => {
      const sb = template.fresh();
      try {
        const alpha = idOf(sb.db, 'Person', 'email', 'ann@x.org');
        const before = person(sb, alpha);
        const r = await play(sb, S.mandatoryAndDefaults.runs.p);
        const rows = detailsOf(r.stdout);
        assert.deepEqual(statusesOf(rows), [[2, 'updated'], [3, 'created'], [4, 'error']]);
        assert.deepEqual(changedOf(rowAt(rows, 2)), ['function']);
        assert.match(messageOf(rows, 4), /mandatory/);
        assert.match(messageOf(rows, 4), /name/);
        const a = person(sb, alpha);
        assert.equal(a.function, 'Lead');
        for (const k of ['phone', 'status', 'notify', 'first_name', 'source', 'source_id']) assert.equal(a[k], before[k], `${k} is untouched`);
        const z = personByEmail(sb.db, 'zulu@x.org');
        assert.equal(z.status, 'active', 'default status');
        assert.equal(z.notify, 'yes', 'default notify');
        assert.equal(query(sb.db, "SELECT id FROM Person WHERE email = 'noname@x.org'").length, 0);
      } finally {
        sb.cleanup();
      }
    });

    test('an empty cell empties the attribute, unless --ignore-empty leaves it as it is', async () => {
      const sb = template.fresh();
      try {
        const kept = await play(sb, S.ignoreEmpty.runs.kept);
        const rows = detailsOf(kept.stdout);
        assert.deepEqual(statusesOf(rows), [[2, 'updated'], [3, 'unchanged']]);
        assert.deepEqual(changedOf(rowAt(rows, 2)), ['function']);
        assert.equal(personByEmail(sb.db, 'ann@x.org').phone, '111');
        assert.equal(personByEmail(sb.db, 'bob@x.org').phone, '222');

        const cleared = await play(sb, S.ignoreEmpty.runs.cleared);
        const rows2 = detailsOf(cleared.stdout);
        assert.deepEqual(statusesOf(rows2), [[2, 'updated'], [3, 'updated']]);
        assert.deepEqual(changedOf(rowAt(rows2, 2)), ['phone']);
        assert.ok([null, ''].includes(personByEmail(sb.db, 'ann@x.org').phone as string | null));
        assert.ok([null, ''].includes(personByEmail(sb.db, 'bob@x.org').phone as string | null));
      } finally {
        sb.cleanup();
      }
    });
  });

  describe('actions', () => {
    test('--action insert skips existing objects with the reason', async () => {
      const sb = template.fresh();
      try {
        const r = await play(sb, S.actionInsert.runs.p);
        const rows = detailsOf(r.stdout);
        assert.deepEqual(statusesOf(rows), [[2, 'skipped'], [3, 'created']]);
        assert.ok((rowAt(rows, 2).message ?? '').length > 0, 'a skipped row says why');
        assert.equal(summaryOf(r.stdout).Skipped, '1');
        assert.equal(personByEmail(sb.db, 'ann@x.org').name, 'Alpha');
        personByEmail(sb.db, 'nina@x.org');
      } finally {
        sb.cleanup();
      }
    });

    test('--action update skips rows without a match', async () => {
      const sb = template.fresh();
      try {
        const r = await play(sb, S.actionUpdate.runs.p);
        const rows = detailsOf(r.stdout);
        assert.deepEqual(statusesOf(rows), [[2, 'updated'], [3, 'skipped']]);
        assert.ok((rowAt(rows, 3).message ?? '').length > 0);
        assert.equal(personByEmail(sb.db, 'ann@x.org').name, 'Renamed');
        assert.equal(query(sb.db, "SELECT id FROM Person WHERE email = 'nina@x.org'").length, 0);
      } finally {
        sb.cleanup();
      }
    });

    test('--action delete deletes matches, skips the rest, and refuses objects still referenced, naming the referrers', async () => {
      const sb = template.fresh();
      try {
        const charlie = idOf(sb.db, 'Person', 'email', 'cid@x.org');
        const r = await play(sb, S.actionDelete.runs.p);
        const rows = detailsOf(r.stdout);
        assert.deepEqual(statusesOf(rows), [[2, 'deleted'], [3, 'skipped']]);
        assert.equal(rowAt(rows, 2).id, String(charlie));
        assert.equal(query(sb.db, 'SELECT id FROM Person WHERE id = ?', charlie).length, 0);
        const change = Number(summaryOf(r.stdout).Change);
        const hist = historyOf(sb.db, change);
        assert.equal(hist.length, 1);
        assert.equal(hist[0]?.op, 'delete');
        assert.equal(hist[0]?.object_id, charlie);
        assert.equal(hist[0]?.changes.email, 'cid@x.org', 'a delete records the old values');
        assert.equal(hist[0]?.changes.name, 'Charlie');

        const orgs = await play(sb, S.actionDelete.runs.orgs);
        const orows = detailsOf(orgs.stdout);
        assert.deepEqual(statusesOf(orows), [[2, 'deleted'], [3, 'error']]);
        const msg = messageOf(orows, 3);
        assert.match(msg, /Person\.org_id/, `names the referring attribute: ${msg}`);
        assert.match(msg, new RegExp(`Person\\.org_id[^;]*\\b${idOf(sb.db, 'Person', 'email', 'ann@x.org')}\\b`), 'names the referring objects');
        assert.match(msg, /Location\.org_id/);
        assert.equal(query(sb.db, "SELECT id FROM Organization WHERE name = 'IT Department'").length, 1);
        assert.equal(query(sb.db, "SELECT id FROM Organization WHERE name = 'Support'").length, 0);
      } finally {
        sb.cleanup();
      }
    });
    test('an object that is its own parent can be deleted; one its child still refers to cannot', async () => {
      const sb = template.fresh();
      try {
        await play(sb, S.ownParent.runs.a);
        await play(sb, S.ownParent.runs.b);
        const selfish = idOf(sb.db, 'Organization', 'name', 'Selfish');
        assert.equal(query(sb.db, 'SELECT parent_id FROM Organization WHERE id = ?', selfish)[0]?.parent_id, selfish);
        const r = await play(sb, S.ownParent.runs.d);
        const rows = detailsOf(r.stdout);
        assert.deepEqual(statusesOf(rows), [[2, 'deleted'], [3, 'error']]);
        assert.match(messageOf(rows, 3), /Organization\.parent_id of \d+/);
        assert.equal(query(sb.db, 'SELECT id FROM Organization WHERE id = ?', selfish).length, 0);
      } finally {
        sb.cleanup();
      }
    });
  });

  describe('transactions', () => {
    test('by default the first row error stops the run, rolls everything back (exit 3) and names the line', async () => {
      const sb = template.fresh();
      try {
        const before = snapshot(sb.db);
        const r = await play(sb, S.stopOnError.runs.p);
        assert.equal(r.code, 3, r.stdout + r.stderr);
        assert.match(r.stderr, /line 4/);
        assert.match(summaryOf(r.stdout).Stopped ?? '', /line 4/);
        assert.equal(summaryOf(r.stdout).Result, 'rolled back');
        assertNoStack(r.stderr);
        assertNothingWritten(sb.db, before);
      } finally {
        sb.cleanup();
      }
    });

    test('--no-stop-on-error writes exactly the valid rows (exit 1)', async () => {
      const sb = template.fresh();
      try {
        const before = countOf(sb.db, 'Person');
        const r = await play(sb, S.noStopOnError.runs.p);
        assert.deepEqual(statusesOf(detailsOf(r.stdout)), [[2, 'created'], [3, 'created'], [4, 'error'], [5, 'created']]);
        assert.equal(countOf(sb.db, 'Person'), before + 3);
        for (const e of ['oli@x.org', 'pam@x.org', 'rae@x.org']) personByEmail(sb.db, e);
        assert.equal(query(sb.db, "SELECT id FROM Person WHERE email = 'quin@x.org'").length, 0);
        assert.equal(summaryOf(r.stdout).Issues, '1');
      } finally {
        sb.cleanup();
      }
    });

    test('--chunk-size keeps the chunks committed before an error and reports the last committed line', async () => {
      const sb = template.fresh();
      try {
        const before = countOf(sb.db, 'Person');
        const r = await play(sb, S.chunks.runs.p);
        assert.equal(r.code, 3, r.stdout + r.stderr);
        const s = summaryOf(r.stdout);
        assert.equal(s['Last committed line'], '5');
        assert.match(r.stderr + (s.Stopped ?? ''), /line 7/);
        assert.equal(countOf(sb.db, 'Person'), before + 4);
        for (const e of ['c1@x.org', 'c2@x.org', 'c3@x.org', 'c4@x.org']) personByEmail(sb.db, e);
        assert.equal(query(sb.db, "SELECT id FROM Person WHERE email IN ('c5@x.org', 'c6@x.org', 'c7@x.org')").length, 0, 'the open chunk is rolled back');
        const change = maxChangeId(sb.db);
        assert.equal(historyOf(sb.db, change).length, 4, 'history of the committed chunks only');
        assert.deepEqual([s.Created, s.Issues, s['Rolled back']], ['4', '1', '1 row (created 1)'], 'the report counts what is committed, the rolled-back row apart');
        const rec = query<{ created: number; errors: number }>(sb.db, 'SELECT created, errors FROM _sluice_change WHERE id = ?', change)[0];
        assert.deepEqual([rec?.created, rec?.errors], [4, 1], 'so does the change record');
      } finally {
        sb.cleanup();
      }
    });

    test('--simulate reports exactly what a real run reports and leaves the database unchanged', async () => {
      const sim = template.fresh();
      const real = template.fresh();
      try {
        const before = snapshot(sim.db);
        const a = await play(sim, S.simulate.runs.sim, {}, join(sim.dir, 'log.csv'));
        const b = await play(real, S.simulate.runs.real, {}, join(real.dir, 'log.csv'));
        assert.equal(a.code, 1, a.stderr);
        assert.equal(b.code, 1, b.stderr);
        const da = JSON.parse(a.stdout) as Record<string, unknown>;
        const dbb = JSON.parse(b.stdout) as Record<string, unknown>;
        assert.equal(da.simulate, true);
        assert.equal(dbb.simulate, false);
        for (const k of ['created', 'updated', 'unchanged', 'deleted', 'skipped', 'errors', 'warnings', 'lines', 'rows']) assert.deepEqual(da[k], dbb[k], `${k} differs`);
        assert.deepEqual([dbb.created, dbb.updated, dbb.unchanged, dbb.errors], [1, 1, 1, 1]);
        assert.equal(readFileSync(join(sim.dir, 'log.csv'), 'utf8'), readFileSync(join(real.dir, 'log.csv'), 'utf8'), 'same details table');
        assertNothingWritten(sim.db, before);
        assert.equal(countOf(real.db, 'Person'), before.counts.Person + 1);
      } finally {
        sim.cleanup();
        real.cleanup();
      }
    });
  });

  describe('change tracking', () => {
    test('the run is recorded with its comment and counts; history holds old and new values', async () => {
      const sb = template.fresh();
      try {
        const alpha = idOf(sb.db, 'Person', 'email', 'ann@x.org');
        const r = await play(sb, S.changeTracking.runs.p);
        const s = summaryOf(r.stdout);
        assert.equal(s['Change tracking comment'], 'nightly HR feed');
        const change = Number(s.Change);
        assert.ok(change > 0);
        const rec = query<Record<string, unknown>>(sb.db, 'SELECT * FROM _sluice_change WHERE id = ?', change)[0] as Record<string, unknown>;
        assert.equal(rec.comment, 'nightly HR feed');
        assert.equal(rec.class, 'Person');
        assert.equal(rec.action, 'upsert');
        assert.match(String(rec.file), /tracked\.csv$/);
        assert.equal(rec.outcome, 'committed');
        assert.ok(typeof rec.user === 'string' && rec.user !== '');
        assert.ok(rec.started_at);
        assert.deepEqual([rec.created, rec.updated, rec.unchanged, rec.errors, rec.lines], [1, 1, 1, 0, 3]);

        const hist = historyOf(sb.db, change);
        assert.equal(hist.length, 2, 'no history for the unchanged row');
        const upd = hist.find((h) => h.op === 'update');
        assert.ok(upd);
        assert.equal(upd.object_id, alpha);
        assert.equal(upd.class, 'Person');
        assert.deepEqual(upd.changes, { phone: ['111', '999'] });
        const crt = hist.find((h) => h.op === 'create');
        assert.ok(crt);
        assert.equal(crt.object_id, idOf(sb.db, 'Person', 'email', 'tia@x.org'));
        // a create lists the new values (README "Change tracking")
        assert.equal(crt.changes.name, 'Tango');
        assert.equal(crt.changes.email, 'tia@x.org');
        assert.equal(crt.changes.org_id, ids.sales);
      } finally {
        sb.cleanup();
      }
    });
  });

  describe('reports (SPEC §4)', () => {
    test('summary: # lines in iTop order; --log writes the details table of every row', async () => {
      const sb = template.fresh();
      try {
        const log = join(sb.dir, 'run.log');
        const r = await play(sb, S.reportSummary.runs.p, {}, log);
        const keys = r.stdout.split('\n').filter((l) => l.startsWith('#')).map((l) => (/^#([^:]+):/.exec(l) as RegExpExecArray)[1]);
        const order = ['Class', 'Separator', 'Qualifier', 'Charset Encoding', 'Date format', 'Data Size', 'Data Lines', 'Simulate', 'Columns', 'Reconciliation Keys', 'Change tracking comment', 'Issues', 'Warnings', 'Created', 'Updated', 'Unchanged', 'Deleted', 'Skipped', 'Elapsed', 'Rows/s'];
        assert.deepEqual(keys.filter((k) => order.includes(k as string)), order);
        assert.ok(!r.stdout.includes('line,status'), 'the summary has no table');
        const s = summaryOf(r.stdout);
        assert.deepEqual([s.Class, s.Separator, s.Qualifier, s['Charset Encoding'], s['Data Lines'], s.Simulate], ['Person', ',', '"', 'UTF-8', '5', 'no']);
        assert.equal(s['Data Size'], String(Buffer.byteLength(REPORTED_CSV)));
        assert.equal(s.Columns, 'name, first_name, org_id->name, email, phone');
        assert.deepEqual([s.Issues, s.Created, s.Updated, s.Unchanged, s.Deleted, s.Skipped], ['2', '1', '1', '1', '0', '0']);
        const logRows = detailsOf(readFileSync(log, 'utf8'));
        assert.deepEqual(statusesOf(logRows), [[2, 'updated'], [3, 'unchanged'], [4, 'created'], [5, 'error'], [6, 'error']]);
      } finally {
        sb.cleanup();
      }
    });

    test('details: the summary then a CSV table line,status,id,message,<input columns> in file order', async () => {
      const sb = template.fresh();
      try {
        const r = await play(sb, S.reportDetails.runs.p);
        assert.ok(r.stdout.startsWith('#Class: Person\n'));
        const rows = detailsOf(r.stdout);
        assert.deepEqual(Object.keys(rows[0] as DetailsRow), ['line', 'status', 'id', 'message', 'name', 'first_name', 'org_id->name', 'email', 'phone']);
        assert.deepEqual(statusesOf(rows), [[2, 'updated'], [3, 'unchanged'], [4, 'created'], [5, 'error'], [6, 'error']]);
        assert.equal(rowAt(rows, 4)['first_name'], 'Uma, Jr.', 'cells with the separator are quoted');
        assert.equal(rowAt(rows, 4).id, String(idOf(sb.db, 'Person', 'email', 'uma@x.org')));
        assert.equal(rowAt(rows, 5).id, '');
        assert.match(messageOf(rows, 5), /Nowhere/);
        assert.deepEqual(changedOf(rowAt(rows, 2)), ['phone']);
      } finally {
        sb.cleanup();
      }
    });

    test('json: one document with the counts and the non-unchanged rows', async () => {
      const sb = template.fresh();
      try {
        const r = await play(sb, S.reportJson.runs.p);
        const doc = JSON.parse(r.stdout) as Record<string, unknown> & { rows: { line: number; status: string; id: number | null; changed?: string[]; message?: string }[] };
        assert.equal(doc.class, 'Person');
        assert.equal(doc.simulate, false);
        assert.equal(typeof doc.change, 'number');
        assert.deepEqual([doc.created, doc.updated, doc.unchanged, doc.deleted, doc.skipped, doc.errors, doc.lines], [1, 1, 1, 0, 0, 2, 5]);
        assert.equal(typeof doc.elapsed_s, 'number');
        assert.deepEqual(doc.rows.map((x) => [x.line, x.status]), [[2, 'updated'], [4, 'created'], [5, 'error'], [6, 'error']]);
        assert.deepEqual(doc.rows[0]?.changed, ['phone']);
        assert.equal(doc.rows[1]?.id, idOf(sb.db, 'Person', 'email', 'uma@x.org'));
        assert.match(doc.rows[2]?.message ?? '', /Nowhere/);
      } finally {
        sb.cleanup();
      }
    });

    test('retcode: prints the number of rows in error', async () => {
      const sb = template.fresh();
      try {
        const r = await play(sb, S.reportRetcode.runs.p);
        assert.equal(r.stdout.trim(), '2');
        assert.equal(countOf(sb.db, 'Person'), 6);
      } finally {
        sb.cleanup();
      }
    });
  });
});
