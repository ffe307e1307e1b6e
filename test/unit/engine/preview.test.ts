import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { normalizeImportOptions } from '../../../src/engine/options.js';
import { previewImport, suggestDateFormat } from '../../../src/engine/preview.js';
import { initStore, resolveModel } from '../../../src/model/store.js';
import { sandbox } from '../../helpers/cli.js';

const sb = sandbox();
after(() => sb.cleanup());
initStore(sb.db, resolveModel('cmdb'));

function run(className: string, text: string | Buffer, raw: Record<string, unknown> = {}, rows = 20, truncated = false) {
  const o = normalizeImportOptions({ db: sb.db, className, file: 'upload', ...raw });
  return previewImport(o, Readable.from([Buffer.from(text)]), { rows, truncated });
}

describe('suggestDateFormat', () => {
  it('finds the format every sample reads under', () => {
    assert.equal(suggestDateFormat([{ type: 'date', text: '31/12/2024' }, { type: 'date', text: '01/02/2025' }]), 'd/m/Y');
    assert.equal(suggestDateFormat([{ type: 'date', text: '12/31/2024' }]), 'm/d/Y');
    assert.equal(suggestDateFormat([{ type: 'date', text: '31.12.2024' }]), 'd.m.Y');
    assert.equal(suggestDateFormat([{ type: 'datetime', text: '31/12/2024 10:30' }]), 'd/m/Y H:i');
  });

  it('says nothing when no format reads them all', () => {
    assert.equal(suggestDateFormat([]), null);
    assert.equal(suggestDateFormat([{ type: 'date', text: '31/12/2024' }, { type: 'date', text: '12/31/2024' }]), null);
    assert.equal(suggestDateFormat([{ type: 'date', text: 'yesterday' }]), null);
  });
});

describe('previewImport', () => {
  it('suggests a date format for the dates that do not read as ISO 8601, and reads them with it', async () => {
    const csv = 'name,purchase_date\nsrv1,31/12/2024\nsrv2,\n';
    const p = await run('Server', csv);
    assert.equal(p.dateFormat, 'ISO 8601');
    assert.equal(p.suggestedDateFormat, 'd/m/Y');
    assert.match(p.rows[0]?.error ?? '', /purchase_date/);
    const fixed = await run('Server', csv, { dateFormat: 'd/m/Y' });
    assert.equal(fixed.dateFormat, 'd/m/Y');
    assert.equal(fixed.suggestedDateFormat, null);
    assert.equal(fixed.rows[0]?.error, null);
  });

  it('maps reserved columns, references by id and link sets, and masks passwords', async () => {
    const p = await run('UserLocal', 'id,contactid,Login,Password,Profiles\n,,support,secret,Portal user\n');
    assert.deepEqual(
      p.columns.map((c) => [c.mapping?.kind, c.mapping?.header, c.key]),
      [
        ['reserved', 'id', null],
        ['ref', 'contactid', 'contactid'],
        ['scalar', 'login', 'login'],
        ['scalar', 'password', null],
        ['links', 'profile_list', null],
      ],
    );
    assert.deepEqual(p.rows[0]?.cells, ['', '', 'support', '******', 'Portal user']);
  });

  it('says what is wrong with the header as a whole: a column twice', async () => {
    const p = await run('Person', 'name,Last Name\nHugo,Hugo\n');
    assert.ok(p.columns.every((c) => c.error === null));
    assert.match(p.planError ?? '', /maps to the same attribute as column 1/);
  });

  it('an empty file is said as the run says it', async () => {
    const p = await run('Person', '');
    assert.equal(p.error?.code, 'E_MALFORMED');
    assert.match(p.error?.message ?? '', /the file is empty/);
  });
});
