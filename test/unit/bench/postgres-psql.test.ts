import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { STAGING_COLUMNS, peerPScript, psqlFileLiteral } from '../../../bench/peers/postgres-psql.js';
import { PERSON_HEADER } from '../../../fixtures/generate.js';

const line = (script: string, start: string): string => {
  const found = script.split('\n').filter((l) => l.startsWith(start));
  assert.equal(found.length, 1, `one line starting with ${start} in:\n${script}`);
  return found[0] as string;
};

describe('bench peer P: the psql script', () => {
  it('copies the file named in a literal, a quote in its name doubled, on one line', () => {
    const script = peerPScript("/data/o'brien feeds/persons.csv");
    assert.ok(line(script, '\\copy').startsWith("\\copy staging FROM '/data/o''brien feeds/persons.csv' WITH (FORMAT csv, HEADER MATCH, "));
  });

  it("stages an empty cell as '', as Sluice stores it, so that an unchanged row compares equal", () => {
    const copy = line(peerPScript('/f.csv'), '\\copy');
    const forced = /FORCE_NOT_NULL \(([^)]*)\)\)$/.exec(copy);
    assert.ok(forced, copy);
    assert.deepEqual((forced[1] as string).split(', '), PERSON_HEADER.split(',').map((c) => `"${c}"`));
  });

  it('refuses a file name with a line break, which would end \\copy inside it', () => {
    assert.throws(() => psqlFileLiteral('/data/a\nb.csv'), /line break/);
    assert.throws(() => peerPScript('/data/a\rb.csv'), /line break/);
    assert.equal(psqlFileLiteral('/data/a b.csv'), "'/data/a b.csv'");
  });

  it('stops at the first error and works in the schema it is given', () => {
    const script = peerPScript('/f.csv', 'imports');
    assert.equal(script.split('\n')[0], '\\set ON_ERROR_STOP on');
    assert.equal(line(script, 'SET search_path'), 'SET search_path = "imports";');
    assert.equal(line(peerPScript('/f.csv'), 'SET search_path'), 'SET search_path = "sluice";');
  });

  it('stages the feed in text columns named and ordered as its header', () => {
    assert.deepEqual(STAGING_COLUMNS, PERSON_HEADER.split(','));
    const create = line(peerPScript('/f.csv'), 'CREATE TEMP TABLE staging');
    const cols = [...create.matchAll(/"([^"]+)" text/g)].map((m) => m[1]);
    assert.deepEqual(cols, PERSON_HEADER.split(','));
  });

  it('upserts on email, resolving the organization by name, and updates only rows whose values differ', () => {
    const script = peerPScript('/f.csv');
    assert.match(script, /LEFT JOIN "Organization" AS o ON o\.name = s\."org_id->name"\n/);
    assert.match(script, /\nON CONFLICT \(email\) DO UPDATE SET\n/);
    const insert = /INSERT INTO "Person" \(([^)]*)\)\nSELECT (.*), o\.id\n/.exec(script);
    assert.ok(insert, script);
    const target = (insert[1] as string).split(', ');
    assert.deepEqual(target.slice(0, -1).map((c) => `s.${c}`), (insert[2] as string).split(', '));
    assert.equal(target.at(-1), '"org_id"');
    const set = [...script.matchAll(/^ {2}("[^"]+") = excluded\.("[^"]+")/gm)].map((m) => [m[1], m[2]]);
    const updated = target.filter((c) => c !== '"email"');
    assert.deepEqual(set, updated.map((c) => [c, c]), 'every column but the key is updated from the feed');
    const where = /WHERE \(([^)]*)\)\n {2}IS DISTINCT FROM \(([^)]*)\);/.exec(script);
    assert.ok(where, script);
    assert.deepEqual((where[1] as string).split(', '), updated.map((c) => `excluded.${c}`));
    assert.deepEqual((where[2] as string).split(', '), updated.map((c) => `"Person".${c}`));
  });

  it('reports the rows staged and written, as its last line of output', () => {
    const lines = peerPScript('/f.csv').trimEnd().split('\n');
    const copy = lines.findIndex((l) => l.startsWith('\\copy'));
    assert.equal(lines[copy + 1], '\\set staged :ROW_COUNT', 'ROW_COUNT is read right after the command it counts');
    const upsert = lines.findIndex((l) => l.startsWith('  IS DISTINCT FROM'));
    assert.equal(lines[upsert + 1], '\\set written :ROW_COUNT');
    assert.equal(lines[upsert + 2], "SELECT json_build_object('rows', :staged, 'written', :written);");
    assert.equal(lines.at(-1), 'DROP TABLE staging;');
  });
});
