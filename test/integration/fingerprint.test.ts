/**
 * Record fingerprints (src/resolve/fingerprint.ts): a record identical to the one that last
 * wrote an object is unchanged without being mapped, looked up or written. They must change
 * nothing but speed: every report and database here is compared with the one the ordinary
 * path gives, which a database whose fingerprints were cleared forces.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { type Sandbox, historyEntries, query } from '../helpers/cli.js';
import { type Template, countOf, csvText, detailsOf, idOf, importOk, makeTemplate } from '../helpers/fixtures.js';
import { prngInt } from '../helpers/random.js';

const HEADER = ['email', 'name', 'first_name', 'phone', 'org_id->name'];
const ORGS = 'name\nIT\nSales\n';
const PEOPLE = 40;

function person(k: number, phone = `+1 555 ${String(k).padStart(4, '0')}`, org = k % 2 === 0 ? 'IT' : 'Sales'): string[] {
  return [`p${k}@x.org`, `Name ${k}`, k % 3 === 0 ? 'Ann, "Jr"' : 'Bo', phone, org];
}

const FIRST = csvText([HEADER, ...Array.from({ length: PEOPLE }, (_, k) => person(k))]);

/** Rows of the first feed again, changed rows, a changed row followed by its old record, new rows, in-file duplicates. */
function mixedFeed(seed: number, rows: number): string {
  const next = prngInt(seed);
  const out: string[][] = [HEADER];
  for (let r = 0; r < rows; r++) {
    const k = next(PEOPLE + 10);
    const pick = next(10);
    if (pick < 5) out.push(person(k));
    else if (pick < 7) out.push(person(k, `+9 ${next(1000)}`));
    else if (pick < 8) out.push(person(k, '+9 000'), person(k));
    else if (pick < 9) out.push(person(k, undefined, k % 2 === 0 ? 'Sales' : 'IT'));
    else out.push(person(PEOPLE + 100 + next(20)));
  }
  return csvText(out);
}

function exec(db: string, sql: string): void {
  const d = new Database(db);
  try {
    d.exec(sql);
  } finally {
    d.close();
  }
}

function data(db: string): unknown[] {
  return query(db, 'SELECT id, email, name, first_name, phone, org_id FROM Person ORDER BY id');
}

function fingerprinted(db: string): number {
  return query<{ n: number }>(db, 'SELECT count(_fp) AS n FROM Person')[0]?.n ?? 0;
}

/** The report lines that do not depend on timing. */
function comparable(stdout: string): string {
  return stdout
    .split('\n')
    .filter((l) => !/^#(Elapsed|Rows\/s|Peak memory):/.test(l))
    .join('\n');
}

describe('record fingerprints', () => {
  let template: Template;
  const boxes: Sandbox[] = [];
  const fresh = (): Sandbox => {
    const sb = template.fresh();
    boxes.push(sb);
    return sb;
  };

  before(async () => {
    template = await makeTemplate([
      { cls: 'Organization', content: ORGS },
      { cls: 'Person', content: FIRST, args: ['--keys', 'email'] },
    ]);
  });
  after(() => {
    for (const sb of boxes) sb.cleanup();
    template.sandbox.cleanup();
  });

  test('every object an import writes records the fingerprint of its record; a class this small needs no index on them', () => {
    assert.equal(fingerprinted(template.sandbox.db), PEOPLE);
    assert.deepEqual(query(template.sandbox.db, `SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'Person__fp'`), []);
  });

  test('a json report, which keeps no input cells, is that of the ordinary path', async () => {
    const withFp = fresh();
    const without = fresh();
    exec(without.db, 'UPDATE Person SET _fp = NULL');
    const feed = mixedFeed(5, 150);
    const strip = (stdout: string): unknown => {
      const j = JSON.parse(stdout) as Record<string, unknown>;
      for (const k of ['elapsed_s', 'rows_per_s', 'peak_rss_bytes', 'started_at', 'finished_at']) delete j[k];
      return j;
    };
    const a = await importOk(withFp, 'Person', 'feed.csv', feed, ['--keys', 'email', '--output', 'json']);
    const b = await importOk(without, 'Person', 'feed.csv', feed, ['--keys', 'email', '--output', 'json']);
    assert.deepEqual(strip(a.stdout), strip(b.stdout));
    assert.deepEqual(data(withFp.db), data(without.db));
  });

  test('a re-run of the same file is all unchanged and writes nothing', async () => {
    const sb = fresh();
    const before = query(sb.db, 'SELECT * FROM Person ORDER BY id');
    const history = countOf(sb.db, '_sluice_history');
    const r = await importOk(sb, 'Person', 'again.csv', FIRST, ['--keys', 'email', '--output', 'details']);
    assert.deepEqual(
      detailsOf(r.stdout).map((d) => d.status),
      new Array(PEOPLE).fill('unchanged'),
    );
    assert.deepEqual(query(sb.db, 'SELECT * FROM Person ORDER BY id'), before);
    assert.equal(countOf(sb.db, '_sluice_history'), history);
  });

  test('a matching fingerprint stands for the object: a write outside Sluice must clear it', async () => {
    const sb = fresh();
    // Behind Sluice's back: the phone changes, the fingerprint stays; the record is taken as unchanged.
    exec(sb.db, `UPDATE Person SET phone = 'edited' WHERE email = 'p1@x.org'`);
    const r1 = await importOk(sb, 'Person', 'again.csv', FIRST, ['--keys', 'email', '--output', 'details']);
    assert.equal(detailsOf(r1.stdout)[1]?.status, 'unchanged');
    // With the fingerprint cleared, the row is compared and written.
    exec(sb.db, `UPDATE Person SET _fp = NULL WHERE email = 'p1@x.org'`);
    const r2 = await importOk(sb, 'Person', 'again.csv', FIRST, ['--keys', 'email', '--output', 'details']);
    assert.equal(detailsOf(r2.stdout)[1]?.status, 'updated');
    assert.equal(query<{ phone: string }>(sb.db, `SELECT phone FROM Person WHERE email = 'p1@x.org'`)[0]?.phone, '+1 555 0001');
  });

  test('a record identical to one an earlier row of the same run changed is applied in order', async () => {
    const sb = fresh();
    const feed = csvText([HEADER, person(3, '+9 123'), person(3), person(4)]);
    const r = await importOk(sb, 'Person', 'back.csv', feed, ['--keys', 'email', '--output', 'details']);
    assert.deepEqual(
      detailsOf(r.stdout).map((d) => d.status),
      ['updated', 'updated', 'unchanged'],
    );
    assert.equal(query<{ phone: string }>(sb.db, `SELECT phone FROM Person WHERE email = 'p3@x.org'`)[0]?.phone, '+1 555 0003');
  });

  test('another mapping writing the object replaces its fingerprint', async () => {
    const sb = fresh();
    await importOk(sb, 'Person', 'phones.csv', 'email,phone\np5@x.org,+7 777\n', ['--keys', 'email']);
    const r = await importOk(sb, 'Person', 'again.csv', FIRST, ['--keys', 'email', '--output', 'details']);
    assert.equal(detailsOf(r.stdout)[5]?.status, 'updated');
    assert.equal(query<{ phone: string }>(sb.db, `SELECT phone FROM Person WHERE email = 'p5@x.org'`)[0]?.phone, '+1 555 0005');
  });

  test('a change to a referenced class retires the fingerprints that resolved in it', async () => {
    const sb = fresh();
    const it = idOf(sb.db, 'Organization', 'name', 'IT');
    await importOk(sb, 'Organization', 'rename.csv', `id,name\n${it},IT Department\n`);
    const r = await importOk(sb, 'Person', 'again.csv', FIRST, ['--keys', 'email', '--output', 'details', '--no-stop-on-error'], 1);
    const rows = detailsOf(r.stdout);
    assert.equal(rows[0]?.status, 'error');
    assert.match(rows[0]?.message ?? '', /no Organization matches "IT"/);
    assert.equal(rows[1]?.status, 'unchanged');
  });

  test('--simulate reports what a real run would and writes nothing', async () => {
    const sb = fresh();
    const feed = mixedFeed(7, 30);
    const before = query(sb.db, 'SELECT * FROM Person ORDER BY id');
    const sim = await importOk(sb, 'Person', 'feed.csv', feed, ['--keys', 'email', '--output', 'details', '--simulate']);
    assert.deepEqual(query(sb.db, 'SELECT * FROM Person ORDER BY id'), before);
    const real = await importOk(sb, 'Person', 'feed.csv', feed, ['--keys', 'email', '--output', 'details']);
    assert.deepEqual(detailsOf(sim.stdout), detailsOf(real.stdout));
  });

  test('a row with a warning stores no fingerprint', async () => {
    const sb = fresh();
    await importOk(sb, 'Person', 'empty-key.csv', csvText([HEADER, ['', 'Nobody', 'N', '1', 'IT']]), ['--keys', 'email']);
    assert.equal(query<{ n: number }>(sb.db, `SELECT count(_fp) AS n FROM Person WHERE name = 'Nobody'`)[0]?.n, 0);
  });

  test('a record holding a password stores no fingerprint, and a re-run compares it as the ordinary path does', async () => {
    const sb = fresh();
    const users = 'login,language,password\nann,EN US,s3cret!\nbob,FR FR,hunter2\n';
    await importOk(sb, 'UserLocal', 'users.csv', users, ['--keys', 'login']);
    await importOk(sb, 'UserLocal', 'logins.csv', 'login,language\ncid,DE DE\n', ['--keys', 'login']);
    const fps = (): unknown[] => query(sb.db, 'SELECT login, _fp IS NOT NULL AS fp FROM UserLocal ORDER BY id');
    assert.deepEqual(fps(), [
      { login: 'ann', fp: 0 },
      { login: 'bob', fp: 0 },
      { login: 'cid', fp: 1 },
    ]);
    const r = await importOk(sb, 'UserLocal', 'users.csv', users, ['--keys', 'login', '--output', 'details']);
    assert.deepEqual(
      detailsOf(r.stdout).map((d) => d.status),
      ['unchanged', 'unchanged'],
    );
    assert.deepEqual(fps().slice(0, 2), [
      { login: 'ann', fp: 0 },
      { login: 'bob', fp: 0 },
    ]);
  });

  for (const [name, args] of [
    ['defaults', []],
    ['one record per batch', ['--workers', '1', '--frame-bytes', '1']],
    ['two workers, chunks of 7', ['--workers', '2', '--frame-bytes', '300', '--chunk-size', '7']],
  ] as const) {
    test(`mixed feeds give the reports and data of the ordinary path (${name})`, async () => {
      const withFp = fresh();
      const without = fresh();
      for (let seed = 1; seed <= 3; seed++) {
        const feed = mixedFeed(seed, 120);
        exec(without.db, 'UPDATE Person SET _fp = NULL');
        const a = await importOk(withFp, 'Person', 'feed.csv', feed, ['--keys', 'email', '--output', 'details', ...args]);
        const b = await importOk(without, 'Person', 'feed.csv', feed, ['--keys', 'email', '--output', 'details', ...args]);
        assert.equal(comparable(a.stdout), comparable(b.stdout), `feed ${seed}`);
        assert.deepEqual(data(withFp.db), data(without.db), `feed ${seed}`);
        assert.deepEqual(
          historyEntries(withFp.db).map((h) => [h.object_id, h.op, h.changes]),
          historyEntries(without.db).map((h) => [h.object_id, h.op, h.changes]),
          `feed ${seed}`,
        );
        const statuses = new Set(detailsOf(a.stdout).map((d) => d.status));
        assert.ok(statuses.has('unchanged') && statuses.has('updated') && statuses.has('created'), `feed ${seed}: a mix of statuses, got ${[...statuses].join(', ')}`);
      }
    });
  }
});
