import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { applyParamFile, parseCommand, subcommand, withName } from '../../../src/cli/args.js';
import { IMPORT_ALIASES, IMPORT_SPECS, toRawOptions } from '../../../src/cli/import.js';
import { normalizeImportOptions } from '../../../src/engine/options.js';
import { SluiceError } from '../../../src/base/errors.js';

const parse = (argv: string[]) => parseCommand('import', argv, IMPORT_SPECS, IMPORT_ALIASES);
const isUsage = (re: RegExp) => (e: unknown) => e instanceof SluiceError && e.code === 'E_USAGE' && re.test(e.message);

describe('import arguments', () => {
  it("accepts every iTop alias and form and maps it to Sluice's option", () => {
    const a = parse([
      '--csvfile=people.csv',
      'class=Person',
      '--reconciliationkeys=email,name',
      '--date_format', 'd/m/Y',
      '--no_stop_on_import_error',
      '--max_chunk_size=500',
      '--simulate=1',
      '--no_localize=1',
      '--output=details',
      '--charset=ISO-8859-1',
    ]);
    assert.deepEqual(
      { file: a.file, class: a.class, keys: a.keys, df: a['date-format'], nse: a['no-stop-on-error'], chunk: a['chunk-size'], sim: a.simulate, out: a.output, cs: a.charset },
      { file: 'people.csv', class: 'Person', keys: 'email,name', df: 'd/m/Y', nse: true, chunk: '500', sim: true, out: 'details', cs: 'ISO-8859-1' },
    );
    const raw = toRawOptions(a);
    assert.equal(raw.stopOnError, false);
    assert.equal(raw.simulate, true);
  });

  it('reads a switch set to 0 as off', () => {
    assert.equal(parse(['--simulate=0', '--class', 'Person']).simulate, false);
    assert.equal(toRawOptions(parse(['--simulate=0', '--class', 'Person'])).simulate, false);
    assert.throws(() => parse(['--simulate=maybe']), isUsage(/--simulate="maybe" is not valid/));
  });

  it('--relax-quotes reaches the import options in each spelling; off unless given', () => {
    const relax = (argv: string[]): boolean => normalizeImportOptions(toRawOptions(parse(['--class', 'Person', '--file', 'a.csv', ...argv]))).relaxQuotes;
    assert.equal(relax([]), false);
    assert.equal(relax(['--relax-quotes']), true);
    assert.equal(relax(['--relax_quotes=1']), true);
    assert.equal(relax(['relax_quotes=yes']), true);
    assert.equal(relax(['--relax-quotes=0']), false);
  });

  it('refuses conflicting spellings of one option, naming both', () => {
    assert.throws(() => parse(['--file', 'a.csv', '--csvfile=b.csv']), isUsage(/--file and --csvfile both set --file/));
    assert.deepEqual(parse(['--file', 'a.csv', '--csvfile=a.csv']).file, 'a.csv');
  });

  it('names two database URLs given for one option without their passwords', () => {
    assert.throws(
      () => parse(['--db', 'postgres://u:s3cret@h/a', '--db=postgres://u:0ther@h/b']),
      (e: Error) => /--db and --db both set --db \("postgres:\/\/u:\*\*\*@h\/a" and "postgres:\/\/u:\*\*\*@h\/b"\)/.test(e.message) && !/s3cret|0ther/.test(e.message),
    );
  });

  it('refuses unknown options and stray arguments', () => {
    assert.throws(() => parse(['--auth_user=admin']), isUsage(/unknown option --auth_user/));
    assert.throws(() => parse(['stray']), isUsage(/unexpected argument "stray"/));
    assert.throws(() => parse(['--class']), isUsage(/--class needs a value/));
  });
});

describe('param files', () => {
  it('fills options the command line left out; the command line wins', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-args-'));
    try {
      const file = join(dir, 'params.txt');
      writeFileSync(file, '# nightly feed\nclass = Person\ncsvfile = "from-file.csv"\nreconciliationkeys = email # the key\nsimulate = 1\n\ncomment = nightly load\n');
      const a = parse(['--file', 'cli.csv', '--param_file', file]);
      applyParamFile('import', a['param-file'] as string, a, IMPORT_SPECS, IMPORT_ALIASES);
      assert.equal(a.file, 'cli.csv');
      assert.equal(a.class, 'Person');
      assert.equal(a.keys, 'email');
      assert.equal(a.simulate, true);
      assert.equal(a.comment, 'nightly load');
      writeFileSync(file, 'comment = ticket #123\nkeys = "email # not a comment" # but this is\n  # an indented comment\nsimulate = 1\nno_stop_on_import_error = 1\n');
      const b = parse(['--simulate=0', '--no_stop_on_import_error=0', '--param_file', file]);
      applyParamFile('import', b['param-file'] as string, b, IMPORT_SPECS, IMPORT_ALIASES);
      assert.equal(b.comment, 'ticket #123', 'a # inside a value is part of it');
      assert.equal(b.keys, 'email # not a comment', 'a quoted value is taken whole');
      assert.equal(b.simulate, false, 'a switch turned off on the command line wins over the file');
      assert.equal(b['no-stop-on-error'], false, 'also under its iTop name');
      const c = parse(['--param_file', file]);
      applyParamFile('import', c['param-file'] as string, c, IMPORT_SPECS, IMPORT_ALIASES);
      assert.equal(c.simulate, true, 'without the command line, the file turns it on');
      writeFileSync(file, 'class = Person\nbogus = 1\n');
      assert.throws(() => applyParamFile('import', file, parse([]), IMPORT_SPECS, IMPORT_ALIASES), isUsage(/line 2: unknown key "bogus"/));
      writeFileSync(file, 'just words\n');
      assert.throws(() => applyParamFile('import', file, parse([]), IMPORT_SPECS, IMPORT_ALIASES), isUsage(/line 1: expected "key = value"/));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('subcommand', () => {
  it('runs the handler the first argument names, with the rest; an unknown one is refused naming the valid ones', () => {
    const seen: string[][] = [];
    const handlers = { add: (rest: string[]) => (seen.push(rest), 0), list: () => 7 };
    assert.equal(subcommand('thing', ['add', '--name', 'x'], handlers, 'usage\n'), 0);
    assert.deepEqual(seen, [['--name', 'x']]);
    assert.equal(subcommand('thing', ['list'], handlers, 'usage\n'), 7);
    assert.throws(() => subcommand('thing', ['toString'], handlers, 'usage\n'), /sluice thing: unknown subcommand "toString" \(valid: add, list\)/);
  });

  it('withName takes a first argument that is not an option for --name', () => {
    assert.deepEqual(withName(['hr', '--db', 'x']), ['--name', 'hr', '--db', 'x']);
    assert.deepEqual(withName(['--db', 'x']), ['--db', 'x']);
    assert.deepEqual(withName(['name=hr']), ['name=hr']);
  });
});
