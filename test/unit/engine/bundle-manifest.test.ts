import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SluiceError } from '../../../src/base/errors.js';
import { classFromFileName, entriesFromNames, listBundle, parseManifest } from '../../../src/engine/bundle-manifest.js';
import { CMDB_MODEL } from '../../../src/model/cmdb.js';
import { buildModel } from '../../../src/model/load.js';

const model = buildModel(CMDB_MODEL);
const MANIFEST = '/data/feed/bundle.json';

/** The message of the usage error `fn` throws. */
function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SluiceError, `not a SluiceError: ${String(e)}`);
    assert.equal(e.code, 'E_USAGE');
    assert.equal(e.option, '--bundle');
    return e.message;
  }
  assert.fail('no error was thrown');
}

describe('bundle file names', () => {
  it('gives the class a file is named after, with or without an ordering prefix, in any case', () => {
    assert.equal(classFromFileName(model, 'Person.csv', 'dir'), 'Person');
    assert.equal(classFromFileName(model, 'Organization.tsv', 'dir'), 'Organization');
    assert.equal(classFromFileName(model, 'UserLocal.json', 'dir'), 'UserLocal');
    assert.equal(classFromFileName(model, '01-Organization.csv', 'dir'), 'Organization');
    assert.equal(classFromFileName(model, '2_location.CSV', 'dir'), 'Location');
    assert.equal(classFromFileName(model, '10 person.ndjson', 'dir'), 'Person');
  });

  it('refuses a name that is no class, naming the file and the valid classes', () => {
    const m = usageError(() => classFromFileName(model, 'People.csv', 'directory feed'));
    assert.match(m, /"People\.csv" names no class/);
    assert.match(m, /valid: Organization, Location, Person/);
  });

  it('refuses a file that is not CSV, TSV or JSON', () => {
    const m = usageError(() => classFromFileName(model, 'README.md', 'directory feed'));
    assert.match(m, /directory feed: "README\.md" is not named after a class/);
    assert.match(m, /valid classes: Organization/);
  });

  it('takes a directory\'s files in name order, skipping hidden ones', () => {
    const e = entriesFromNames(model, '/feed', ['Person.csv', '.DS_Store', '01-Organization.csv']);
    assert.deepEqual(
      e.map((x) => [x.name, x.className, x.path]),
      [
        ['01-Organization.csv', 'Organization', '/feed/01-Organization.csv'],
        ['Person.csv', 'Person', '/feed/Person.csv'],
      ],
    );
  });

  it('refuses two files of one class', () => {
    const m = usageError(() => entriesFromNames(model, '/feed', ['Person.csv', '02-Person.json']));
    assert.match(m, /"02-Person\.json" and "Person\.csv" are both files of class Person/);
  });

  it('refuses an empty directory', () => {
    assert.match(usageError(() => entriesFromNames(model, '/feed', ['.hidden'])), /holds no file to import/);
  });
});

describe('bundle manifest', () => {
  it('reads files with their class, keys and options, relative to the manifest', () => {
    const e = parseManifest(
      model,
      JSON.stringify({
        files: [
          { file: 'orgs.csv', class: 'organization', keys: ['name'], separator: ';', charset: 'ISO-8859-1' },
          { file: 'sub/People.txt', class: 'Person', 'ignore-empty': true, action: 'update', 'date-format': 'd/m/Y' },
          'UserLocal.json',
          { file: '/abs/03-Location.csv', format: 'csv', 'relax-quotes': true, qualifier: "'", keys: 'name,org_id->name' },
        ],
      }),
      MANIFEST,
    );
    assert.deepEqual(
      e.map((x) => [x.name, x.className, x.path]),
      [
        ['orgs.csv', 'Organization', '/data/feed/orgs.csv'],
        ['sub/People.txt', 'Person', '/data/feed/sub/People.txt'],
        ['UserLocal.json', 'UserLocal', '/data/feed/UserLocal.json'],
        ['/abs/03-Location.csv', 'Location', '/abs/03-Location.csv'],
      ],
    );
    assert.deepEqual(e[0]?.options, { keys: ['name'], separator: ';', charset: 'ISO-8859-1' });
    assert.deepEqual(e[1]?.options, { ignoreEmpty: true, action: 'update', dateFormat: 'd/m/Y' });
    assert.deepEqual(e[2]?.options, {});
    assert.deepEqual(e[3]?.options, { format: 'csv', relaxQuotes: true, qualifier: "'", keys: 'name,org_id->name' });
    assert.match(e[1]?.origin ?? '', /bundle\.json files\[1\] \(sub\/People\.txt\)/);
  });

  const bad: [string, unknown, RegExp][] = [
    ['not JSON', '{files: [', /bundle\.json: is not valid JSON/],
    ['a list', [], /must be a JSON object with a "files" list, not a list/],
    ['no files', {}, /"files" must be a list of at least one file, not missing/],
    ['empty files', { files: [] }, /"files" must be a list of at least one file/],
    ['an unknown top-level key', { files: ['Person.csv'], order: [] }, /unknown key "order" \(valid: files\)/],
    ['an entry that is a number', { files: [3] }, /files\[0\]: must be an object .* not number 3/],
    ['an entry without file', { files: [{ class: 'Person' }] }, /files\[0\]: "file" is required/],
    ['an unknown entry key', { files: [{ file: 'a.csv', class: 'Person', simulate: true }] }, /files\[0\]: unknown key "simulate" \(valid: file, class, keys, action, charset/],
    ['an unknown class', { files: [{ file: 'a.csv', class: 'Human' }] }, /files\[0\] \(a\.csv\): unknown class "Human" \(valid: Organization, Location/],
    ['a name that is no class', { files: ['people.csv'] }, /bundle\.json files\[0\]: "people\.csv" names no class/],
    ['a class that is no text', { files: [{ file: 'a.csv', class: 7 }] }, /"class" must be a class name, not number 7/],
    ['a boolean option as text', { files: [{ file: 'Person.csv', 'ignore-empty': 'yes' }] }, /files\[0\] \(Person\.csv\): "ignore-empty" must be true or false, not the text "yes"/],
    ['keys as a number', { files: [{ file: 'Person.csv', keys: 1 }] }, /"keys" must be a list of attribute names or one comma-separated text/],
    ['a separator as a number', { files: [{ file: 'Person.csv', separator: 9 }] }, /"separator" must be a text, not number 9/],
    ['two files of one class', { files: ['Person.csv', { file: 'more.csv', class: 'Person' }] }, /"Person\.csv" and "more\.csv" are both files of class Person/],
    ['a file listed twice', { files: [{ file: 'a.csv', class: 'Person' }, { file: './a.csv', class: 'Organization' }] }, /files\[1\] \(\.\/a\.csv\): the file is listed twice \(also files\[0\]\)/],
  ];
  for (const [what, doc, re] of bad) {
    it(`refuses ${what}, naming the manifest and what is valid`, () => {
      const m = usageError(() => parseManifest(model, typeof doc === 'string' ? doc : JSON.stringify(doc), MANIFEST));
      assert.match(m, /^--bundle: \/data\/feed\/bundle\.json/);
      assert.match(m, re);
    });
  }
});

describe('listBundle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bundle-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a directory by its file names, ignoring subdirectories', () => {
    const d = join(dir, 'names');
    mkdirSync(join(d, 'old'), { recursive: true });
    writeFileSync(join(d, 'Person.csv'), 'name\n');
    writeFileSync(join(d, '1-Organization.csv'), 'name\n');
    const r = listBundle(model, d);
    assert.equal(r.manifest, null);
    assert.deepEqual(r.entries.map((e) => e.className), ['Organization', 'Person']);
  });

  it('uses the bundle.json a directory holds, and a manifest given itself', () => {
    const d = join(dir, 'manifest');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'bundle.json'), JSON.stringify({ files: [{ file: 'x.csv', class: 'Person' }] }));
    writeFileSync(join(d, 'notes.md'), 'the manifest says what to read');
    for (const path of [d, join(d, 'bundle.json')]) {
      const r = listBundle(model, path);
      assert.equal(r.manifest, join(d, 'bundle.json'));
      assert.deepEqual(r.entries.map((e) => [e.className, e.path]), [['Person', join(d, 'x.csv')]]);
    }
  });

  it('refuses a path that does not exist', () => {
    assert.match(usageError(() => listBundle(model, join(dir, 'nowhere'))), /cannot read .*nowhere \(no such file or directory\)/);
  });
});
