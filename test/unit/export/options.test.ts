import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SluiceError } from '../../../src/base/errors.js';
import { normalizeExportOptions } from '../../../src/export/options.js';

function usageError(fn: () => unknown, option: string, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SluiceError, String(e));
    assert.equal(e.code, 'E_USAGE');
    assert.equal(e.option, option);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('normalizeExportOptions', () => {
  it('fills in the defaults: csv, comma, UTF-8, guard on, standard output', () => {
    const o = normalizeExportOptions({ className: 'Person', db: 'x.db' });
    assert.deepEqual(o, { db: 'x.db', className: 'Person', columns: undefined, format: 'csv', separator: ',', charset: 'UTF-8', guard: true, output: undefined });
  });

  it('uses tab for tsv, takes named separators, and normalizes charset names', () => {
    assert.equal(normalizeExportOptions({ className: 'P', format: 'TSV' }).separator, '\t');
    assert.equal(normalizeExportOptions({ className: 'P', separator: 'semicolon' }).separator, ';');
    assert.equal(normalizeExportOptions({ className: 'P', charset: 'latin1' }).charset, 'ISO-8859-1');
    assert.equal(normalizeExportOptions({ className: 'P', raw: true }).guard, false);
    assert.equal(normalizeExportOptions({ className: 'P', output: '-' }).output, undefined);
    assert.deepEqual(normalizeExportOptions({ className: 'P', columns: 'name, org_id->name' }).columns, ['name', 'org_id->name']);
  });

  it('names the option and the valid values in every error', () => {
    usageError(() => normalizeExportOptions({}), '--class', /is required/);
    usageError(() => normalizeExportOptions({ className: 'P', format: 'xml' }), '--format', /"xml" is not valid \(valid: csv, tsv, json\)/);
    usageError(() => normalizeExportOptions({ className: 'P', separator: ';;' }), '--separator', /not one character/);
    usageError(() => normalizeExportOptions({ className: 'P', separator: '"' }), '--separator', /quote character/);
    usageError(() => normalizeExportOptions({ className: 'P', format: 'json', separator: ';' }), '--separator', /csv only \(json has no separator\)/);
    usageError(() => normalizeExportOptions({ className: 'P', format: 'tsv', separator: ';' }), '--separator', /tsv is always tab-separated/);
    usageError(() => normalizeExportOptions({ className: 'P', charset: 'klingon' }), '--charset', /unknown charset "klingon"/);
    usageError(() => normalizeExportOptions({ className: 'P', columns: ',' }), '--columns', /names no column/);
  });
});
