/**
 * A bundle's files in the writer: the second file's Applier joins the change and the
 * transaction the first opened (join, endPart), sees the first file's writes in its
 * references, and the change record holds the totals.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parseRecords } from '../../../src/input/parse.js';
import { configure, initStore, readModel, resolveModel } from '../../../src/model/store.js';
import type { ClassDef, Model } from '../../../src/model/types.js';
import { Lookup } from '../../../src/resolve/lookup.js';
import { resolveChunk } from '../../../src/resolve/resolve.js';
import { compileDateFormat } from '../../../src/rows/dates.js';
import { buildPlan } from '../../../src/rows/header.js';
import { mapRows } from '../../../src/rows/map.js';
import { Applier, type ChangeLabel, type RunInfo, STATUS_NAMES } from '../../../src/write/apply.js';
import { emptyCounts } from '../../../src/report/types.js';

type DB = Database.Database;

function fresh(t: TestContext): { writer: DB; reader: DB; model: Model } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bundle-part-'));
  const path = join(dir, 'cmdb.db');
  initStore(path, resolveModel('cmdb'));
  const writer = new Database(path, { fileMustExist: true });
  configure(writer, 'writer');
  const reader = new Database(path, { readonly: true, fileMustExist: true });
  t.after(() => {
    reader.close();
    writer.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { writer, reader, model: readModel(writer, path) };
}

const LABEL: ChangeLabel = { className: 'Organization,Person', action: 'bundle' };

/** One file of a bundle: its plan (with the classes written before it), an Applier, and a worker's view of the committed state. */
function part(s: { writer: DB; reader: DB; model: Model }, className: string, csv: string, writtenBefore: string[], run: Partial<RunInfo> = {}) {
  const [header, ...body] = csv.split('\n');
  const cls = s.model.classes.get(className) as ClassDef;
  const plan = buildPlan(s.model, cls, (header as string).split(','), { keys: undefined, action: 'upsert', ignoreEmpty: false, writtenBefore });
  const applier = new Applier(s.writer, s.model, plan, { user: 'tester', comment: '', file: 'feed', simulate: false, stopOnError: true, chunkSize: 0, ...run });
  const buf = Buffer.from(body.join('\n'), 'utf8');
  const { records, lines } = parseRecords(buf, 2, { delimiter: 44, quote: 34 });
  const mapped = mapRows(s.model, plan, records, lines, { dates: compileDateFormat(undefined) });
  const chunk = resolveChunk(s.model, plan, new Lookup(s.reader), mapped, 0, buf.byteLength);
  return { plan, applier, chunk, lines: records.length };
}

describe('a bundle in the writer', () => {
  it('applies a second file in the first file\'s change and transaction, its references seeing the first file\'s rows', (t) => {
    const s = fresh(t);
    const orgs = part(s, 'Organization', 'name\nSales\nIT\n', []);
    orgs.applier.begin(LABEL.className, LABEL.action);
    assert.deepEqual([...orgs.applier.apply(orgs.chunk, false).status].map((x) => STATUS_NAMES[x]), ['created', 'created']);
    orgs.applier.endPart(orgs.lines);
    assert.ok(s.writer.inTransaction, 'the transaction stays open for the next file');
    assert.equal(s.reader.prepare('SELECT count(*) FROM Organization').pluck().get(), 0, 'nothing is committed yet');

    // The worker saw no organization: the references are left to the writer.
    const people = part(s, 'Person', 'name,first_name,org_id->name\nHugo,Victor,IT\nSand,George,Nowhere\n', ['Organization'], { stopOnError: false });
    assert.deepEqual(people.plan.writtenBefore, ['Organization']);
    assert.deepEqual(people.chunk.error, [null, null], 'a reference into an earlier file\'s class is not a worker error');
    people.applier.join(LABEL, { change: orgs.applier.changeId, prior: { counts: { ...emptyCounts(), created: 2 }, committed: emptyCounts(), lines: 2 } });
    const out = people.applier.apply(people.chunk, false);
    assert.deepEqual([...out.status].map((x) => STATUS_NAMES[x]), ['created', 'error']);
    assert.match(out.message[1] ?? '', /column "org_id->name": no Organization matches "Nowhere"; existing values: /);
    assert.equal(people.applier.finish(true, 'committed', people.lines), orgs.applier.changeId);

    const it = s.reader.prepare("SELECT id FROM Organization WHERE name = 'IT'").pluck().get();
    assert.deepEqual(s.reader.prepare('SELECT name, org_id FROM Person').all(), [{ name: 'Hugo', org_id: it }]);
    assert.deepEqual(s.reader.prepare("SELECT class, action, outcome, lines, created, errors FROM _sluice_change WHERE action = 'bundle'").all(), [
      { class: 'Organization,Person', action: 'bundle', outcome: 'committed', lines: 4, created: 3, errors: 1 },
    ]);
    assert.deepEqual(s.reader.prepare("SELECT DISTINCT change_id FROM _sluice_history WHERE class <> 'Profile'").pluck().all(), [orgs.applier.changeId]);
  });

  it('rolls back every file when the last fails, recording the change with the bundle\'s label', (t) => {
    const s = fresh(t);
    const orgs = part(s, 'Organization', 'name\nSales\n', []);
    orgs.applier.begin(LABEL.className, LABEL.action);
    orgs.applier.apply(orgs.chunk, false);
    orgs.applier.endPart(orgs.lines);
    const people = part(s, 'Person', 'name,first_name,org_id->name\nSand,George,Nowhere\n', ['Organization']);
    people.applier.join(LABEL, { change: orgs.applier.changeId, prior: { counts: { ...emptyCounts(), created: 1 }, committed: emptyCounts(), lines: 1 } });
    const out = people.applier.apply(people.chunk, false);
    assert.ok(out.stop, 'the row error stops the run');
    const change = people.applier.finish(false, 'rolled back', people.lines);
    assert.equal(s.reader.prepare('SELECT count(*) FROM Organization').pluck().get(), 0);
    assert.deepEqual(s.reader.prepare('SELECT class, action, outcome, created, errors FROM _sluice_change WHERE id = ?').get(change), {
      class: 'Organization,Person',
      action: 'bundle',
      outcome: 'rolled back',
      created: 0,
      errors: 1,
    });
  });

  it('with --chunk-size commits each file at its end; a failure keeps the files before it', (t) => {
    const s = fresh(t);
    const orgs = part(s, 'Organization', 'name\nSales\nIT\nOps\n', [], { chunkSize: 2 });
    orgs.applier.begin(LABEL.className, LABEL.action);
    orgs.applier.apply(orgs.chunk, false);
    orgs.applier.endPart(orgs.lines);
    assert.equal(s.reader.prepare('SELECT count(*) FROM Organization').pluck().get(), 3, 'the file\'s last rows are committed at its end');
    assert.equal(orgs.applier.lastCommittedLine, 4);
    const people = part(s, 'Person', 'name,first_name,org_id->name\nSand,George,Nowhere\n', ['Organization'], { chunkSize: 2 });
    people.applier.join(LABEL, { change: orgs.applier.changeId, prior: { counts: { ...emptyCounts(), created: 3 }, committed: { ...emptyCounts(), created: 3 }, lines: 3 } });
    people.applier.apply(people.chunk, false);
    const change = people.applier.finish(false, 'rolled back', people.lines);
    assert.equal(change, orgs.applier.changeId, 'the change committed with the first file is the one kept');
    assert.deepEqual(s.reader.prepare('SELECT outcome, lines, created, errors FROM _sluice_change WHERE id = ?').get(change), { outcome: 'rolled back', lines: 4, created: 3, errors: 1 });
  });

  it('records the run when the bundle fails between two files, keeping what --chunk-size committed', (t) => {
    for (const chunkSize of [0, 2]) {
      const s = fresh(t);
      const orgs = part(s, 'Organization', 'name\nSales\nIT\nOps\n', [], { chunkSize });
      orgs.applier.begin(LABEL.className, LABEL.action);
      orgs.applier.apply(orgs.chunk, false);
      orgs.applier.endPart(orgs.lines);
      // The next file never joins (it could not be read, or the run was interrupted).
      const change = orgs.applier.finish(false, 'interrupted', orgs.lines);
      assert.ok(change !== null, 'the run is recorded');
      assert.equal(s.writer.inTransaction, false);
      const kept = chunkSize > 0 ? 3 : 0;
      assert.equal(s.reader.prepare('SELECT count(*) FROM Organization').pluck().get(), kept);
      assert.deepEqual(s.reader.prepare('SELECT outcome, lines, created FROM _sluice_change WHERE id = ?').get(change), { outcome: 'interrupted', lines: 3, created: kept });
      assert.deepEqual(orgs.applier.rolledBack, { ...emptyCounts(), created: 3 - kept });
    }
  });
});
