import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SluiceError } from '../../../src/base/errors.js';
import { CMDB_MODEL } from '../../../src/model/cmdb.js';
import { buildModel } from '../../../src/model/load.js';
import type { ClassDef } from '../../../src/model/types.js';
import { buildPlan, type PlanOptions } from '../../../src/rows/header.js';
import { rawControl } from '../../helpers/hostile.js';
import type { Action, ImportPlan } from '../../../src/rows/plan.js';

const model = buildModel(CMDB_MODEL, 'cmdb');

function cls(name: string): ClassDef {
  const c = model.classes.get(name);
  assert.ok(c, name);
  return c;
}

function plan(className: string, header: string[], opts: Partial<PlanOptions> = {}): ImportPlan {
  return buildPlan(model, cls(className), header, { keys: undefined, action: 'upsert', ignoreEmpty: false, ...opts });
}

/** buildPlan must fail with `code` and a message holding every part. */
function planError(className: string, header: string[], opts: Partial<PlanOptions>, code: 'E_HEADER' | 'E_USAGE', ...parts: string[]): SluiceError {
  let caught: unknown;
  try {
    plan(className, header, opts);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof SluiceError, `expected a SluiceError for [${header.join(', ')}], got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  for (const p of parts) assert.ok(caught.message.includes(p), `message ${JSON.stringify(caught.message)} should contain ${JSON.stringify(p)}`);
  return caught;
}

describe('buildPlan: columns', () => {
  it('maps codes and labels case-insensitively to value slots', () => {
    const p = plan('Person', ['Last Name', 'EMAIL', 'first_name', 'notification', 'Mobile Phone']);
    assert.equal(p.className, 'Person');
    assert.deepEqual(p.slots, ['name', 'email', 'first_name', 'notify', 'mobile_phone']);
    assert.deepEqual(p.columns, [0, 1, 2, 3, 4].map((slot) => ({ kind: 'scalar', slot })));
    assert.deepEqual(p.header, ['Last Name', 'EMAIL', 'first_name', 'notification', 'Mobile Phone']);
    assert.deepEqual(p.refs, []);
    assert.deepEqual(p.links, []);
    assert.equal(p.idColumn, -1);
    assert.equal(p.sourceColumn, -1);
    assert.equal(p.sourceIdColumn, -1);
  });

  it('trims header cells', () => {
    assert.deepEqual(plan('Person', ['  Last Name ', ' email']).slots, ['name', 'email']);
  });

  it('makes Organization->Name a reference group', () => {
    const p = plan('Person', ['Last Name', 'Organization->Name']);
    assert.deepEqual(p.slots, ['name', 'org_id']);
    assert.deepEqual(p.refs, [{ attr: 'org_id', slot: 1, target: 'Organization', subs: ['name'], columns: [1] }]);
    assert.deepEqual(p.columns[1], { kind: 'refSub', group: 0, sub: 0 });
  });

  it('accepts spaces and any case around ->', () => {
    const p = plan('Person', ['ORG_ID -> name']);
    assert.deepEqual(p.refs[0]?.subs, ['name']);
    assert.equal(p.refs[0]?.attr, 'org_id');
  });

  it('puts two columns on the same reference in one group with two subs', () => {
    const p = plan('Person', ['location_id->name', 'email', 'Location->Owner organization']);
    assert.deepEqual(p.slots, ['location_id', 'email']);
    assert.equal(p.refs.length, 1);
    assert.deepEqual(p.refs[0], { attr: 'location_id', slot: 0, target: 'Location', subs: ['name', 'org_id'], columns: [0, 2] });
    assert.deepEqual(p.columns[0], { kind: 'refSub', group: 0, sub: 0 });
    assert.deepEqual(p.columns[2], { kind: 'refSub', group: 0, sub: 1 });
  });

  it('keeps separate groups for separate references', () => {
    const p = plan('Person', ['org_id->name', 'manager_id->email', 'location_id->name']);
    assert.deepEqual(p.refs.map((g) => [g.attr, g.target, g.slot]), [
      ['org_id', 'Organization', 0],
      ['manager_id', 'Person', 1],
      ['location_id', 'Location', 2],
    ]);
  });

  it('makes a plain org_id column a reference group with sub id', () => {
    const p = plan('Person', ['org_id']);
    assert.deepEqual(p.refs, [{ attr: 'org_id', slot: 0, target: 'Organization', subs: ['id'], columns: [0] }]);
    assert.deepEqual(plan('Person', ['Organization']).refs[0]?.subs, ['id']);
    assert.deepEqual(plan('Person', ['org_id->id']).refs[0]?.subs, ['id']);
  });

  it('maps the reserved columns id, source and source_id', () => {
    const p = plan('Person', ['email', 'SOURCE', 'id', 'source_id']);
    assert.equal(p.idColumn, 2);
    assert.equal(p.sourceColumn, 1);
    assert.equal(p.sourceIdColumn, 3);
    assert.deepEqual(p.columns, [{ kind: 'scalar', slot: 0 }, { kind: 'source' }, { kind: 'id' }, { kind: 'source_id' }]);
    assert.deepEqual(p.slots, ['email']);
  });

  it('describes link-set columns', () => {
    const p = plan('UserLocal', ['Login', 'Profiles']);
    assert.deepEqual(p.links, [
      { attr: 'profile_list', label: 'Profiles', target: 'Profile', linkTable: 'UserLocal_profile_list', itemKey: 'profileid', column: 1, itemAttr: 'name' },
    ]);
    assert.deepEqual(p.columns[1], { kind: 'links', link: 0 });
    assert.deepEqual(p.slots, ['login']);
    // Person's first reconciliation attribute is name
    assert.equal(plan('Team', ['persons_list']).links[0]?.itemAttr, 'name');
  });

  it('takes the SPEC examples', () => {
    const person = plan('Person', ['Last Name', 'Status', 'Organization->Name', 'Email', 'Phone', 'Notification', 'Function', 'First Name'], { keys: ['Email'] });
    assert.deepEqual(person.slots, ['name', 'status', 'org_id', 'email', 'phone', 'notify', 'function', 'first_name']);
    assert.deepEqual(person.keys, ['email']);
    const login = plan('UserLocal', ['Contact (person)->Email', 'Login', 'Language', 'Password', 'Profiles'], { keys: ['Login'] });
    assert.deepEqual(login.slots, ['contactid', 'login', 'language', 'password']);
    assert.deepEqual(login.refs[0]?.subs, ['email']);
    assert.deepEqual(login.keys, ['login']);
  });
});

describe('buildPlan: header errors', () => {
  it('rejects an unknown column and lists the valid ones', () => {
    const e = planError('Person', ['email', 'Nickname'], {}, 'E_HEADER', 'unknown column "Nickname"', 'valid columns for Person', 'id, source, source_id', 'name (Last Name)', 'email', 'org_id (Organization)', 'org_id->name');
    assert.equal(e.line, 1);
    assert.equal(e.column, 'Nickname');
  });

  it('rejects -> on an attribute that is not a reference', () => {
    planError('Person', ['email->name'], {}, 'E_HEADER', 'email->name', 'email is a string', 'org_id, location_id, manager_id');
  });

  it('rejects -> on an unknown attribute', () => {
    planError('Person', ['boss->name'], {}, 'E_HEADER', 'unknown column "boss->name"', 'no attribute "boss"');
  });

  it('rejects references more than one level deep', () => {
    planError('Person', ['location_id->org_id->name'], {}, 'E_HEADER', 'location_id->org_id->name', 'one level deep');
  });

  it('rejects an unknown sub-attribute, listing the target\'s attributes', () => {
    planError('Person', ['org_id->nope'], {}, 'E_HEADER', 'unknown column "org_id->nope"', 'Organization has no attribute "nope"', 'valid: id, name', 'parent_id (Parent)');
  });

  it('rejects the same attribute twice, by code, by label, or by code and label', () => {
    planError('Person', ['email', 'Email'], {}, 'E_HEADER', 'column 2 "Email"', 'column 1 "email"', 'once');
    planError('Person', ['name', 'Last Name'], {}, 'E_HEADER', 'column 2 "Last Name"', 'column 1 "name"');
    planError('Person', ['org_id->name', 'Organization->Name'], {}, 'E_HEADER', 'column 2 "Organization->Name"');
    planError('Person', ['id', 'ID'], {}, 'E_HEADER', 'column 2 "ID"');
    planError('Person', ['org_id', 'org_id->id'], {}, 'E_HEADER', 'column 2 "org_id->id"');
    planError('UserLocal', ['Profiles', 'profile_list'], {}, 'E_HEADER', 'column 2 "profile_list"');
  });

  it('rejects mixing an id column and sub-attribute columns of one reference', () => {
    planError('Person', ['org_id', 'email', 'org_id->name'], {}, 'E_HEADER', '"org_id"', '"org_id->name"', 'both as an id and by attributes');
  });

  it('rejects an empty header cell, naming its position', () => {
    const e = planError('Person', ['email', '  ', 'phone'], {}, 'E_HEADER', 'column 2 has an empty header');
    assert.equal(e.column, '#2');
  });

  it('quotes header names with control characters escaped, cut to 60 characters', () => {
    const e = planError('Person', ['email', 'na\x1b[2Jme\r\u0085\u202e'], {}, 'E_HEADER', 'unknown column "na\\x1b[2Jme\\r\\u0085\\u202e"');
    assert.equal(rawControl(e.message), null);
    planError('Person', ['email', 'Email\x07'], {}, 'E_HEADER', 'unknown column "Email\\x07"');
    planError('Person', ['org_id->na\x1bme'], {}, 'E_HEADER', 'unknown column "org_id->na\\x1bme"', 'no attribute "na\\x1bme"');
    planError('Person', ['email->x\ty'], {}, 'E_HEADER', 'column "email->x\\ty"');
    planError('Person', ['name', `${'x'.repeat(5000)}\x1b`], {}, 'E_HEADER', `unknown column "${'x'.repeat(59)}…"`);
    planError('Person', ['email', 'Email', '\x1b'], {}, 'E_HEADER', 'column 2 "Email"');
    const dup = planError('Person', ['na"me', 'email', 'EMAIL'], {}, 'E_HEADER', 'unknown column "na\\"me"');
    assert.equal(dup.column, 'na"me');
  });

  it('quotes a --keys name with control characters escaped', () => {
    planError('Person', ['name', 'email'], { keys: ['email\x1b[0m'] }, 'E_USAGE', 'unknown key "email\\x1b[0m" for --keys');
  });

  it('rejects source without source_id and source_id without source', () => {
    planError('Person', ['email', 'source'], {}, 'E_HEADER', 'source and source_id go together', 'only source');
    planError('Person', ['email', 'source_id'], {}, 'E_HEADER', 'only source_id');
  });
});

describe('buildPlan: links and passwords cannot identify a reference', () => {
  const custom = buildModel({
    classes: {
      Account: { attributes: { login: { type: 'string' }, secret: { type: 'password' }, groups: { type: 'links', class: 'Account' } } },
      Session: { attributes: { account_id: { type: 'ref', class: 'Account' } } },
    },
  });
  const session = custom.classes.get('Session');
  assert.ok(session);
  const opts: PlanOptions = { keys: undefined, action: 'upsert', ignoreEmpty: false };

  it('refuses a password or links attribute as the sub of a reference', () => {
    assert.throws(() => buildPlan(custom, session, ['account_id->secret'], opts), (e: unknown) => e instanceof SluiceError && e.code === 'E_HEADER' && e.message.includes('Account.secret is a password'));
    assert.throws(() => buildPlan(custom, session, ['account_id->groups'], opts), (e: unknown) => e instanceof SluiceError && e.code === 'E_HEADER' && e.message.includes('Account.groups is a links'));
    assert.deepEqual(buildPlan(custom, session, ['account_id->login'], opts).refs[0]?.subs, ['login']);
  });
});

describe('buildPlan: keys', () => {
  it('defaults to the class reconciliation attributes present in the file', () => {
    const all = plan('Person', ['email', 'First Name', 'Organization->Name', 'Last Name']);
    assert.deepEqual(all.keys, ['name', 'first_name', 'org_id']);
    assert.deepEqual(all.keyLabels, ['name', 'first_name', 'org_id->name']);
    const some = plan('Person', ['email', 'Last Name', 'org_id']);
    assert.deepEqual(some.keys, ['name', 'org_id']);
    assert.deepEqual(some.keyLabels, ['name', 'org_id->id']);
    assert.deepEqual(plan('Person', ['email', 'phone']).keys, []);
  });

  it('labels a multi-column reference key with all its subs', () => {
    const p = plan('Server', ['name', 'org_id->name', 'org_id->code']);
    assert.deepEqual(p.keys, ['name', 'org_id']);
    assert.deepEqual(p.keyLabels, ['name', 'org_id->name+org_id->code']);
  });

  it('takes --keys by code or label, in any case, without duplicates', () => {
    assert.deepEqual(plan('Person', ['Last Name', 'Email'], { keys: ['Email'] }).keys, ['email']);
    assert.deepEqual(plan('Person', ['Last Name', 'Email'], { keys: ['EMAIL', ' last name '] }).keys, ['email', 'name']);
    assert.deepEqual(plan('Person', ['Last Name', 'Email'], { keys: ['email', 'Email'] }).keys, ['email']);
  });

  it('takes a reference key written as attr->sub', () => {
    const p = plan('Person', ['Last Name', 'Organization->Name'], { keys: ['name', 'org_id->name'] });
    assert.deepEqual(p.keys, ['name', 'org_id']);
    assert.deepEqual(p.keyLabels, ['name', 'org_id->name']);
  });

  it('refuses a key that is not a column of the file, naming --keys', () => {
    const e = planError('Person', ['Last Name', 'Email'], { keys: ['phone'] }, 'E_USAGE', '--keys "phone"', 'no column for phone', 'name, email');
    assert.equal(e.option, '--keys');
  });

  it('refuses an unknown key, listing the attributes', () => {
    const e = planError('Person', ['Last Name', 'Email'], { keys: ['nope'] }, 'E_USAGE', 'unknown key "nope"', '--keys', 'email', 'name (Last Name)');
    assert.equal(e.option, '--keys');
  });

  it('refuses links and password keys', () => {
    planError('Team', ['name', 'Members'], { keys: ['Members'] }, 'E_USAGE', 'links attribute cannot be a reconciliation key');
    planError('UserLocal', ['login', 'password'], { keys: ['Password'] }, 'E_USAGE', 'password attribute cannot be a reconciliation key');
  });

  for (const action of ['update', 'delete'] as Action[]) {
    it(`refuses --action ${action} without any way to find objects`, () => {
      planError('Person', ['email', 'phone'], { action }, 'E_HEADER', `--action ${action}`, 'name, first_name, org_id');
      // an id column or a source pair is enough
      assert.equal(plan('Person', ['id', 'phone'], { action }).idColumn, 0);
      assert.equal(plan('Person', ['source', 'source_id', 'phone'], { action }).sourceColumn, 0);
      assert.deepEqual(plan('Person', ['email', 'phone'], { action, keys: ['email'] }).keys, ['email']);
    });
  }

  it('lets upsert and insert run without a key (every row creates)', () => {
    assert.deepEqual(plan('Person', ['email', 'phone'], { action: 'insert' }).keys, []);
    assert.deepEqual(plan('Person', ['email', 'phone']).keys, []);
  });

  it('passes action and ignoreEmpty through', () => {
    const p = plan('Person', ['email'], { action: 'insert', ignoreEmpty: true });
    assert.equal(p.action, 'insert');
    assert.equal(p.ignoreEmpty, true);
  });
});

describe('buildPlan: fetch', () => {
  it('holds source, the slots, the keys and the mandatory and unique attributes', () => {
    const p = plan('Person', ['email', 'phone', 'Organization->Name'], { keys: ['email'] });
    assert.deepEqual([...p.fetch].sort(), ['email', 'name', 'org_id', 'phone', 'source', 'source_id']);
    const u = plan('UserLocal', ['login', 'Profiles']);
    assert.deepEqual([...u.fetch].sort(), ['login', 'source', 'source_id']);
  });

  it('holds the sub-attributes of references into the class itself', () => {
    const p = plan('Person', ['email', 'manager_id->employee_number'], { keys: ['email'] });
    assert.ok(p.fetch.includes('employee_number'), p.fetch.join(','));
    assert.ok(p.fetch.includes('manager_id'));
    // references into other classes do not add their subs
    const q = plan('Person', ['email', 'location_id->city'], { keys: ['email'] });
    assert.ok(!q.fetch.includes('city'));
  });

  it('has no duplicates', () => {
    const p = plan('Person', ['Last Name', 'email', 'manager_id->email', 'org_id'], { keys: ['email', 'name'] });
    assert.equal(new Set(p.fetch).size, p.fetch.length);
  });
});
