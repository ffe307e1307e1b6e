import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CMDB_MODEL, IP_ADDRESS_PATTERN } from '../../../src/model/cmdb.js';
import { buildModel, findAttribute } from '../../../src/model/load.js';
import type { Attribute, ClassDef, Model } from '../../../src/model/types.js';

let built: Model | undefined;

/** The built model; buildModel runs inside the tests so that a rejection is reported as a failing test. */
function getModel(): Model {
  built ??= buildModel(CMDB_MODEL, 'cmdb');
  return built;
}

function cls(name: string): ClassDef {
  const c = getModel().classes.get(name);
  assert.ok(c, `class ${name} exists`);
  return c;
}

/**
 * Resolve a header cell the way an import does: `attr` or `attr->sub`, each part
 * by code then label. Returns the chain of attributes it goes through.
 */
function resolveHeader(className: string, header: string): Attribute[] {
  const parts = header.split('->');
  assert.ok(parts.length <= 2, `header ${header} is at most one level deep`);
  const first = findAttribute(cls(className), parts[0]!);
  assert.ok(first, `"${parts[0]}" resolves on ${className}`);
  if (parts.length === 1) return [first];
  assert.ok(first.type === 'ref' || first.type === 'links', `"${parts[0]}" on ${className} is a reference`);
  assert.ok(first.target);
  const sub = findAttribute(cls(first.target), parts[1]!);
  assert.ok(sub, `"${parts[1]}" resolves on ${first.target}`);
  return [first, sub];
}

const EXPECTED_PROFILES = [
  'Administrator',
  'Portal user',
  'Configuration Manager',
  'Service Desk Agent',
  'Support Agent',
  'Problem Manager',
  'Change Implementor',
  'Change Supervisor',
  'Change Approver',
  'Service Manager',
  'Document author',
  'Portal power user',
  'REST Services User',
];

describe('CMDB_MODEL', () => {
  it('is accepted by buildModel and declares the core classes', () => {
    const model = buildModel(CMDB_MODEL, 'cmdb');
    assert.deepEqual(
      [...model.classes.keys()].sort(),
      ['Location', 'Organization', 'Person', 'Profile', 'Server', 'Software', 'Team', 'UserLocal'],
    );
  });

  it('is plain JSON (a model file could hold the same thing)', () => {
    const copy = JSON.parse(JSON.stringify(CMDB_MODEL)) as typeof CMDB_MODEL;
    assert.deepEqual(copy, CMDB_MODEL);
    assert.doesNotThrow(() => buildModel(copy, 'copy'));
  });

  it('resolves the headers of the SPEC Person example', () => {
    const header = 'Last Name,Status,Organization->Name,Email,Phone,Notification,Function,First Name';
    const resolved = header.split(',').map((h) => resolveHeader('Person', h).map((a) => a.code).join('->'));
    assert.deepEqual(resolved, ['name', 'status', 'org_id->name', 'email', 'phone', 'notify', 'function', 'first_name']);

    const person = cls('Person');
    assert.equal(person.byCode.get('org_id')?.target, 'Organization');
    // Values used by the example row: "Active" is a status label, "yes" a notify code.
    assert.equal(person.byCode.get('status')?.values?.active, 'Active');
    assert.ok('yes' in (person.byCode.get('notify')?.values ?? {}));
    assert.equal(person.byCode.get('notify')?.type, 'enum');
    // The --keys of the example.
    assert.equal(findAttribute(person, 'Email')?.code, 'email');
  });

  it('resolves the headers of the SPEC UserLocal example', () => {
    const header = 'Contact (person)->Email,Login,Language,Password,Profiles';
    const resolved = header.split(',').map((h) => resolveHeader('UserLocal', h));
    assert.deepEqual(
      resolved.map((chain) => chain.map((a) => a.code).join('->')),
      ['contactid->email', 'login', 'language', 'password', 'profile_list'],
    );
    const [contact, login, language, password, profiles] = resolved.map((chain) => chain[0]!);
    assert.equal(contact!.target, 'Person');
    assert.equal(login!.unique, true);
    assert.equal(language!.type, 'enum');
    assert.ok('EN US' in (language!.values ?? {}));
    assert.equal(password!.type, 'password');
    assert.equal(profiles!.type, 'links');
    assert.equal(profiles!.target, 'Profile');
    // Cells such as `profileid->name:Configuration Manager`.
    assert.equal(profiles!.itemKey, 'profileid');
    assert.equal(findAttribute(cls('Profile'), 'name')?.code, 'name');
  });

  it('has unique labels per class and no label that is another attribute\'s code', () => {
    for (const c of getModel().classes.values()) {
      const seen = new Map<string, string>();
      for (const a of c.attributes) {
        const label = a.label.toLowerCase();
        assert.ok(!seen.has(label), `${c.name}: label "${a.label}" used by ${seen.get(label)} and ${a.code}`);
        seen.set(label, a.code);
        for (const other of c.attributes) {
          if (other !== a) {
            assert.notEqual(other.code.toLowerCase(), label, `${c.name}: label of ${a.code} is the code of ${other.code}`);
          }
        }
      }
      // Every attribute has a real label, not the code used as a fallback.
      for (const a of c.attributes) assert.ok(CMDB_MODEL.classes[c.name]!.attributes[a.code]!.label, `${c.name}.${a.code} has a label`);
    }
  });

  it('seeds the 13 standard iTop profiles with their descriptions', () => {
    const rows = CMDB_MODEL.seed?.Profile ?? [];
    assert.deepEqual(rows.map((r) => r.name), EXPECTED_PROFILES);
    for (const r of rows) {
      assert.equal(typeof r.description, 'string');
      assert.ok((r.description as string).length > 10, `${String(r.name)} has a description`);
    }
    assert.equal(rows.find((r) => r.name === 'Administrator')?.description, 'Has the rights on everything (bypassing any control)');
    assert.deepEqual(Object.keys(CMDB_MODEL.seed ?? {}), ['Profile']);
  });

  it('has enum defaults among the enum values', () => {
    let enums = 0;
    for (const [className, c] of Object.entries(CMDB_MODEL.classes)) {
      for (const [code, a] of Object.entries(c.attributes)) {
        if (a.type !== 'enum') continue;
        enums++;
        assert.ok(a.values && Object.keys(a.values).length > 0, `${className}.${code} has values`);
        if (a.default !== undefined && a.default !== null) {
          assert.ok(Object.hasOwn(a.values, String(a.default)), `${className}.${code} default ${String(a.default)}`);
        }
      }
    }
    assert.ok(enums >= 10, `found ${enums} enums`);
    assert.equal(cls('UserLocal').byCode.get('language')?.default, 'EN US');
    assert.equal(cls('Server').byCode.get('status')?.default, 'production');
    assert.equal(cls('Person').byCode.get('notify')?.default, 'yes');
  });

  it('uses the reconciliation keys of iTop', () => {
    const keys = Object.fromEntries([...getModel().classes.values()].map((c) => [c.name, c.reconciliation]));
    assert.deepEqual(keys, {
      Organization: ['name'],
      Location: ['name', 'org_id'],
      Person: ['name', 'first_name', 'org_id'],
      Team: ['name', 'org_id'],
      Profile: ['name'],
      UserLocal: ['login'],
      Software: ['name', 'vendor', 'version'],
      Server: ['name', 'org_id'],
    });
  });

  it('marks the mandatory attributes', () => {
    const mandatory = Object.fromEntries(
      [...getModel().classes.values()].map((c) => [c.name, c.attributes.filter((a) => a.mandatory).map((a) => a.code)]),
    );
    assert.deepEqual(mandatory, {
      Organization: ['name'],
      Location: ['name'],
      Person: ['name', 'org_id'],
      Team: ['name', 'org_id'],
      Profile: ['name'],
      UserLocal: ['login'],
      Software: ['name', 'vendor', 'version'],
      Server: ['name', 'org_id'],
    });
  });

  it('bounds short strings at 255 characters', () => {
    for (const c of getModel().classes.values()) {
      for (const a of c.attributes) {
        if (a.type === 'string') assert.equal(a.maxLength, 255, `${c.name}.${a.code}`);
      }
    }
  });

  it('links Team members, user profiles and server software with iTop item keys', () => {
    const links = [...getModel().classes.values()].flatMap((c) =>
      c.attributes.filter((a) => a.type === 'links').map((a) => `${c.name}.${a.code}->${a.target}:${a.itemKey}`),
    );
    assert.deepEqual(links.sort(), [
      'Server.software_list->Software:software_id',
      'Team.persons_list->Person:person_id',
      'UserLocal.profile_list->Profile:profileid',
    ]);
  });

  it('checks management IPs loosely', () => {
    const managementip = cls('Server').byCode.get('managementip');
    assert.equal(managementip?.pattern, IP_ADDRESS_PATTERN);
    const re = new RegExp(IP_ADDRESS_PATTERN, 'u');
    for (const ok of ['10.0.0.1', '192.168.100.254', '::1', 'fe80::1%eth0', '2001:db8::8a2e:370:7334', '::ffff:10.0.0.1']) {
      assert.ok(re.test(ok), ok);
    }
    for (const bad of ['server01', '10.0.0', '10.0.0.1.5', 'http://10.0.0.1', '1.2.3.4 ', 'fe80::zz']) {
      assert.ok(!re.test(bad), bad);
    }
  });
});
