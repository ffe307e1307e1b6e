import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../../../src/base/errors.js';
import { CMDB_MODEL } from '../../../src/model/cmdb.js';
import { buildModel } from '../../../src/model/load.js';
import { effectiveKeys, maxAbsentText, parseMaxAbsent, parseRetention, retentionText, sourceConfig } from '../../../src/sync/config.js';

const model = buildModel(CMDB_MODEL, 'cmdb');

function usageError(fn: () => unknown, option: string, words: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SluiceError, String(e));
    assert.equal(e.code, 'E_USAGE');
    assert.equal(e.option, option);
    assert.match(e.message, words);
    return true;
  });
}

describe('data source settings', () => {
  it('take defaults, and names of classes and attributes by code or label in any case', () => {
    const c = sourceConfig(model, { name: 'hr', class: 'person', keys: 'Email, org_id->name' });
    assert.equal(c.className, 'Person');
    assert.deepEqual(c.keys, ['email', 'org_id']);
    assert.deepEqual(
      { deletePolicy: c.deletePolicy, retentionS: c.retentionS, onZero: c.onZero, onMultiple: c.onMultiple, maxAbsent: c.maxAbsent, claim: c.claim, updatePolicy: c.updatePolicy },
      { deletePolicy: 'ignore', retentionS: 0, onZero: 'create', onMultiple: 'error', maxAbsent: { percent: 50 }, claim: false, updatePolicy: {} },
    );
  });

  it('keep per-attribute update policies other than master, the last one given winning', () => {
    const c = sourceConfig(model, { name: 'hr', class: 'Person', 'update-policy': 'Phone=write-if-empty; function:ignore, mobile_phone=ignore, mobile_phone=master' });
    assert.deepEqual(c.updatePolicy, { phone: 'write-if-empty', function: 'ignore' });
  });

  it('cast the values an absent object gets as cells of their attributes are cast', () => {
    const c = sourceConfig(model, { name: 'hr', class: 'Person', 'delete-policy': 'update-then-delete', 'delete-update': 'status=Inactive, function=left, notify=No, phone=<NULL>, org_id=7', retention: '30d' });
    assert.deepEqual(c.deleteUpdate, { status: 'inactive', function: 'left', notify: 'no', phone: null, org_id: 7 });
    assert.equal(c.retentionS, 30 * 86_400);
  });

  it('refuse what a sync could not apply, naming the option and what is valid', () => {
    usageError(() => sourceConfig(model, { class: 'Person' }), '--name', /is required/);
    usageError(() => sourceConfig(model, { name: 'hr' }), '--class', /is required \(valid: Organization, /);
    usageError(() => sourceConfig(model, { name: 'a b', class: 'Person' }), '--name', /not a valid source name/);
    usageError(() => sourceConfig(model, { name: 'hr', class: 'Nobody' }), '--class', /unknown class "Nobody" for --class \(valid: /);
    usageError(() => sourceConfig(model, { name: 'hr', class: 'Person', keys: 'mail' }), '--keys', /Person has no attribute "mail" \(valid: name, /);
    usageError(() => sourceConfig(model, { name: 'hr', class: 'Team', keys: 'members' }), '--keys', /persons_list is a links attribute and cannot be a reconciliation key/);
    usageError(() => sourceConfig(model, { name: 'hr', class: 'Person', 'update-policy': 'phone=sometimes' }), '--update-policy', /"sometimes" is not valid \(valid: master, write-if-empty, ignore\)/);
    usageError(() => sourceConfig(model, { name: 'hr', class: 'Person', 'update-policy': 'phone' }), '--update-policy', /"phone" is not an assignment/);
    usageError(() => sourceConfig(model, { name: 'hr', class: 'Person', keys: 'email', 'update-policy': 'email=ignore' }), '--update-policy', /email is a reconciliation key/);
    usageError(() => sourceConfig(model, { name: 'hr', class: 'Person', 'delete-policy': 'purge' }), '--delete-policy', /valid: ignore, delete, update, update-then-delete/);
    usageError(() => sourceConfig(model, { name: 'hr', class: 'Person', 'delete-policy': 'update' }), '--delete-update', /is required with --delete-policy update/);
    usageError(() => sourceConfig(model, { name: 'hr', class: 'Person', 'delete-update': 'status=inactive' }), '--delete-update', /applies only with --delete-policy update or update-then-delete/);
    usageError(() => sourceConfig(model, { name: 'hr', class: 'Person', 'delete-policy': 'update', 'delete-update': 'status=gone' }), '--delete-update', /status: .*valid: active/);
    usageError(() => sourceConfig(model, { name: 'hr', class: 'UserLocal', 'delete-policy': 'update', 'delete-update': 'password=x' }), '--delete-update', /password attribute/);
    usageError(() => sourceConfig(model, { name: 'hr', class: 'Person', 'on-zero': 'skip' }), '--on-zero', /valid: create, error/);
    usageError(() => sourceConfig(model, { name: 'hr', class: 'Person', 'on-multiple': 'first' }), '--on-multiple', /valid: error, take-first, create/);
  });

  it('refuse a class without reconciliation keys unless --keys names some', () => {
    const bare = buildModel({ classes: { Thing: { attributes: { name: { type: 'string' } } } } }, 'test');
    usageError(() => sourceConfig(bare, { name: 's', class: 'Thing' }), '--keys', /Thing has no default reconciliation keys/);
    assert.deepEqual(effectiveKeys(bare, sourceConfig(bare, { name: 's', class: 'Thing', keys: 'name' })), ['name']);
    assert.deepEqual(effectiveKeys(model, sourceConfig(model, { name: 's', class: 'Person' })), ['name', 'first_name', 'org_id']);
  });

  it('on edit, keep what is not given, and drop what no longer applies', () => {
    const base = sourceConfig(model, { name: 'hr', class: 'Person', keys: 'email', 'update-policy': 'phone=ignore', 'delete-policy': 'update', 'delete-update': 'status=inactive' });
    const a = sourceConfig(model, { retention: '7d' }, base);
    assert.deepEqual({ ...a, retentionS: 0 }, { ...base, retentionS: 0 });
    assert.equal(a.retentionS, 7 * 86_400);
    const b = sourceConfig(model, { 'delete-policy': 'delete' }, base);
    assert.deepEqual(b.deleteUpdate, {}, 'a policy that no longer updates drops its values');
    const c = sourceConfig(model, { class: 'Organization', 'delete-policy': 'ignore' }, base);
    assert.deepEqual({ keys: c.keys, updatePolicy: c.updatePolicy }, { keys: [], updatePolicy: {} }, "another class drops the settings that named the old class's attributes");
    usageError(() => sourceConfig(model, { class: 'Organization' }, base), '--delete-update', /is required with --delete-policy update/);
  });
});

describe('retention and the full-load guard', () => {
  it('read durations with a unit and write them back the same way', () => {
    for (const [text, s] of [['0', 0], ['45s', 45], ['15m', 900], ['12h', 43_200], ['30d', 2_592_000], ['2w', 1_209_600], ['1.5h', 5400]] as const) {
      assert.equal(parseRetention(text), s, text);
    }
    assert.equal(retentionText(2_592_000), '30d');
    assert.equal(retentionText(1_209_600), '2w');
    assert.equal(retentionText(5400), '90m');
    assert.equal(retentionText(61), '61s');
    for (const bad of ['30', '', 'd', '-1d', '3 days']) usageError(() => parseRetention(bad), '--retention', /is not a duration \(valid: 0, or a number with a unit/);
  });

  it('read a share or a number of owned objects', () => {
    assert.deepEqual(parseMaxAbsent('50%'), { percent: 50 });
    assert.deepEqual(parseMaxAbsent('12.5 %'), { percent: 12.5 });
    assert.deepEqual(parseMaxAbsent('1000'), { count: 1000 });
    assert.equal(maxAbsentText({ percent: 0 }), '0%');
    usageError(() => parseMaxAbsent('101%'), '--max-absent', /more than 100%/);
    usageError(() => parseMaxAbsent('half'), '--max-absent', /a share of the owned objects such as 50%/);
  });
});
