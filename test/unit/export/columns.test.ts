import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SluiceError } from '../../../src/base/errors.js';
import { defaultColumns, defaultRefSubs, requestedColumns, splitColumns } from '../../../src/export/columns.js';
import { CMDB_MODEL } from '../../../src/model/cmdb.js';
import { buildModel } from '../../../src/model/load.js';
import type { ClassDef } from '../../../src/model/types.js';
import { buildPlan } from '../../../src/rows/header.js';

const model = buildModel(CMDB_MODEL, 'cmdb');
const cls = (name: string): ClassDef => model.classes.get(name) as ClassDef;
const headers = (name: string, withSource = false): string[] => defaultColumns(model, cls(name), withSource).map((c) => c.header);

function usageError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SluiceError, String(e));
    assert.equal(e.code, 'E_USAGE');
    assert.equal(e.option, '--columns');
    assert.match(e.message, pattern);
    return true;
  });
}

describe('default columns', () => {
  it('name every Person attribute by code, references by their class reconciliation attributes', () => {
    assert.deepEqual(headers('Person'), [
      'name', 'first_name', 'status', 'org_id->name', 'email', 'phone', 'mobile_phone', 'notify', 'function',
      'location_id->name', 'manager_id->name', 'manager_id->first_name', 'employee_number',
    ]);
  });

  it('leave passwords out and keep link sets as one column', () => {
    const h = headers('UserLocal');
    assert.ok(!h.includes('password'));
    assert.deepEqual(h, ['contactid->name', 'contactid->first_name', 'login', 'language', 'status', 'profile_list', 'expiration']);
    const links = defaultColumns(model, cls('UserLocal'), false).find((c) => c.header === 'profile_list');
    assert.equal(links?.kind, 'links');
    assert.equal(links?.kind === 'links' && `${links.itemKey}/${links.itemAttr}`, 'profileid/name');
  });

  it('start with source and source_id when objects use them', () => {
    assert.deepEqual(headers('Organization', true), ['source', 'source_id', 'name', 'code', 'status', 'parent_id->name']);
  });

  it('write a reference by the plain reconciliation attributes of its target, skipping references among them', () => {
    assert.deepEqual(defaultRefSubs(cls('Location')), ['name']);
    assert.deepEqual(defaultRefSubs(cls('Software')), ['name', 'vendor', 'version']);
  });

  it('are headers the importer maps back onto the same attributes, for every class', () => {
    for (const c of model.classes.values()) {
      const cols = defaultColumns(model, c, true);
      const plan = buildPlan(model, c, cols.map((x) => x.header), { keys: undefined, action: 'upsert', ignoreEmpty: false });
      plan.columns.forEach((spec, i) => {
        const col = cols[i];
        if (col?.kind === 'links') assert.equal(spec.kind === 'links' && plan.links[spec.link]?.attr, col.attr.code);
        else if (col?.kind === 'refSub') assert.equal(spec.kind === 'refSub' && plan.refs[spec.group]?.attr, col.attr.code);
        else if (col?.kind === 'attr') assert.equal(spec.kind === 'scalar' && plan.slots[spec.slot], col.attr.code);
        else assert.equal(spec.kind, col?.header);
      });
      // the class's reconciliation keys are all present, so a re-import matches objects the default way
      assert.deepEqual(plan.keys, c.reconciliation, c.name);
    }
  });
});

describe('requested columns', () => {
  it('accept codes, labels and attr->sub by label, and write codes', () => {
    const cols = requestedColumns(model, cls('Person'), ['Last Name', 'Organization->Name', 'EMAIL', 'id', 'manager_id->email']);
    assert.deepEqual(cols.map((c) => c.header), ['name', 'org_id->name', 'email', 'id', 'manager_id->email']);
  });

  it('take a plain reference as its id', () => {
    const [c] = requestedColumns(model, cls('Person'), ['org_id']);
    assert.equal(c?.kind, 'attr');
    assert.equal(c?.type, 'ref');
  });

  it('refuse passwords with a sentence saying why', () => {
    usageError(() => requestedColumns(model, cls('UserLocal'), ['login', 'password']), /"password" is a password; passwords .* never exported/);
    usageError(() => requestedColumns(model, cls('UserLocal'), ['Password']), /never exported/);
  });

  it('refuse unknown columns naming the valid ones', () => {
    usageError(() => requestedColumns(model, cls('Person'), ['nope']), /unknown column "nope": Person has no attribute "nope" \(valid: id, source, source_id, name, first_name/);
    usageError(() => requestedColumns(model, cls('Person'), ['org_id->nope']), /Organization has no attribute "nope" \(valid: id, name, code/);
  });

  it('quote the names they echo as the importer does: quotes, backslashes and controls escaped', () => {
    usageError(() => requestedColumns(model, cls('Person'), ['na"me\x1b[2J\r']), /^--columns: unknown column "na\\"me\\x1b\[2J\\r": Person has no attribute "na\\"me\\x1b\[2J\\r" \(/);
    usageError(() => requestedColumns(model, cls('Person'), ['org_id->n\\x']), /Organization has no attribute "n\\\\x" \(/);
    usageError(() => requestedColumns(model, cls('Person'), ['name', 'Last Name\u202e']), /^--columns: unknown column "Last Name\\u202e"/);
    usageError(() => requestedColumns(model, cls('Person'), ['email->"x"']), /^--columns: "email->\\"x\\"": email is a string/);
  });

  it('refuse what the importer would refuse', () => {
    usageError(() => requestedColumns(model, cls('Person'), ['email->x']), /email is a string; only references take ->/);
    usageError(() => requestedColumns(model, cls('Person'), ['org_id->parent_id->name']), /one level deep/);
    usageError(() => requestedColumns(model, cls('Person'), ['name', 'Last Name']), /same column as "name"/);
    usageError(() => requestedColumns(model, cls('Person'), ['org_id', 'org_id->name']), /both as an id and by attributes/);
    usageError(() => requestedColumns(model, cls('Person'), ['org_id->id', 'org_id->name']), /both as an id and by attributes/);
  });

  it('split a --columns value, refusing an empty list', () => {
    assert.deepEqual(splitColumns(' name , org_id->name,'), ['name', 'org_id->name']);
    usageError(() => splitColumns(' , '), /names no column/);
  });
});
