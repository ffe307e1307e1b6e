import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../../../src/base/errors.js';
import { parseSize, uploadOptions } from '../../../src/cli/serve.js';

const isUsage = (re: RegExp) => (e: unknown) => e instanceof SluiceError && e.code === 'E_USAGE' && re.test(e.message);
const csv = { fileName: 'upload', contentType: 'text/csv' };

describe('serve: sizes', () => {
  it('reads bytes and KB, MB, GB as powers of 1024', () => {
    assert.equal(parseSize('--max-upload', '1048576'), 1048576);
    assert.equal(parseSize('--max-upload', '64KB'), 65536);
    assert.equal(parseSize('--max-upload', '1.5 mb'), 1572864);
    assert.equal(parseSize('--max-upload', '2GB'), 2 * 1024 ** 3);
    assert.equal(parseSize('--max-upload', '3GiB'), 3 * 1024 ** 3);
  });

  it('refuses anything else, naming the option and the value', () => {
    for (const v of ['', 'lots', '0', '-1KB', '2TB', '1e3']) assert.throws(() => parseSize('--max-upload', v), isUsage(/^--max-upload: ".*" is not valid \(a size such as 2GB/));
  });
});

describe('serve: the options of an upload', () => {
  it('are those of sluice import, by the same names, with switches on when given no value', () => {
    const o = uploadOptions('/d.db', [['class', 'Person'], ['keys', 'email,name'], ['simulate', ''], ['no-stop-on-error', '1'], ['separator', ';'], ['chunk-size', '100']], csv);
    assert.equal(o.className, 'Person');
    assert.deepEqual(o.keys, ['email', 'name']);
    assert.equal(o.simulate, true);
    assert.equal(o.stopOnError, false);
    assert.equal(o.separator, ';');
    assert.equal(o.chunkSize, 100);
    assert.equal(o.db, '/d.db');
    assert.equal(o.output, 'details', 'the log keeps every row with its cells');
    assert.equal(o.progress, 'none');
  });

  it("take iTop's names and the 4me API's type for the class", () => {
    const o = uploadOptions('/d.db', [['type', 'Person'], ['reconciliationkeys', 'email'], ['simulate', 'true']], csv);
    assert.equal(o.className, 'Person');
    assert.deepEqual(o.keys, ['email']);
    assert.equal(o.simulate, true);
  });

  it('read a JSON upload as JSON, by its type or its name, unless format says otherwise', () => {
    assert.equal(uploadOptions('/d.db', [['class', 'Person']], { fileName: 'upload', contentType: 'application/x-ndjson' }).format, 'json');
    assert.equal(uploadOptions('/d.db', [['class', 'Person']], { fileName: 'people.json', contentType: 'application/octet-stream' }).format, 'json');
    assert.equal(uploadOptions('/d.db', [['class', 'Person'], ['format', 'csv']], { fileName: 'people.json', contentType: 'application/json' }).format, 'csv');
    assert.equal(uploadOptions('/d.db', [['class', 'Person']], csv).format, 'csv');
  });

  it('refuse a bad value as the command line does, naming the option and what is valid', () => {
    assert.throws(() => uploadOptions('/d.db', [['class', 'Person'], ['action', 'merge']], csv), isUsage(/^--action: "merge" is not valid \(valid: upsert, insert, update, delete\)/));
    assert.throws(() => uploadOptions('/d.db', [['class', 'Person'], ['chunk-size', 'x']], csv), isUsage(/^--chunk-size: "x" is not valid/));
    assert.throws(() => uploadOptions('/d.db', [['class', 'Person'], ['keys', '']], csv), isUsage(/^--keys: names no attribute/));
    assert.throws(() => uploadOptions('/d.db', [['class', 'Person'], ['class', 'Team']], csv), isUsage(/give it once/));
    assert.throws(() => uploadOptions('/d.db', [], csv), isUsage(/^--class: is required/));
  });

  it("refuse the server's own options", () => {
    for (const k of ['db', 'file', 'log', 'output', 'progress', 'workers', 'param-file']) {
      assert.throws(() => uploadOptions('/d.db', [['class', 'Person'], [k, 'x']], csv), isUsage(new RegExp(`unknown option --${k} \\(valid: --class, --keys`)), k);
    }
  });
});
