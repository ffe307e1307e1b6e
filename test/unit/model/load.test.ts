import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SluiceError } from '../../../src/base/errors.js';
import { CMDB_MODEL } from '../../../src/model/cmdb.js';
import { buildModel, findAttribute, findClass } from '../../../src/model/load.js';
import type { AttributeFile, ClassFile, ModelFile } from '../../../src/model/types.js';

/** A model with one class `Thing` (plus `Other` as a reference target). */
function thing(attributes: Record<string, AttributeFile>, extra: Partial<ClassFile> = {}, more: Partial<ModelFile> = {}): ModelFile {
  return {
    classes: {
      Thing: { attributes, ...extra },
      Other: { attributes: { name: { type: 'string' } }, reconciliation: ['name'] },
    },
    ...more,
  };
}

/** buildModel must reject `file` with E_MODEL, and the message must contain every part. */
function rejects(file: unknown, ...parts: (string | RegExp)[]): SluiceError {
  let caught: unknown;
  try {
    buildModel(file as ModelFile, 'm.json');
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof SluiceError, `expected a SluiceError, got ${String(caught)}`);
  assert.equal(caught.code, 'E_MODEL');
  assert.equal(caught.file, 'm.json');
  assert.ok(caught.message.startsWith('m.json: '), caught.message);
  for (const p of parts) {
    if (typeof p === 'string') assert.ok(caught.message.includes(p), `message ${JSON.stringify(caught.message)} should contain ${JSON.stringify(p)}`);
    else assert.match(caught.message, p);
  }
  return caught;
}

describe('buildModel: accepted models', () => {
  it('builds attributes in declaration order with their options', () => {
    const m = buildModel(
      thing(
        {
          name: { type: 'string', label: 'Name', mandatory: true, maxLength: 10, pattern: '^[a-z]+$' },
          kind: { type: 'enum', values: { a: 'Alpha', b: 'Beta' }, default: 'b' },
          other_id: { type: 'ref', class: 'Other', label: 'Other' },
          others: { type: 'links', class: 'Other' },
          n: { type: 'integer', unique: true },
        },
        { reconciliation: ['name', 'other_id'] },
      ),
    );
    const cls = m.classes.get('Thing');
    assert.ok(cls);
    assert.equal(cls.label, 'Thing');
    assert.deepEqual(cls.attributes.map((a) => a.code), ['name', 'kind', 'other_id', 'others', 'n']);
    assert.deepEqual(cls.reconciliation, ['name', 'other_id']);
    const name = cls.byCode.get('name');
    assert.equal(name?.mandatory, true);
    assert.equal(name?.maxLength, 10);
    assert.equal(name?.pattern, '^[a-z]+$');
    // an attribute without a label is labelled by its code
    assert.equal(cls.byCode.get('kind')?.label, 'kind');
    assert.equal(cls.byCode.get('kind')?.default, 'b');
    assert.equal(cls.byCode.get('other_id')?.target, 'Other');
    assert.equal(cls.byCode.get('other_id')?.linkTable, undefined);
    const links = cls.byCode.get('others');
    assert.equal(links?.linkTable, 'Thing_others');
    assert.equal(links?.itemKey, 'other_id');
    assert.equal(cls.byCode.get('n')?.unique, true);
    assert.equal(cls.byCode.get('n')?.mandatory, false);
  });

  it('accepts a model without reconciliation or seed', () => {
    const m = buildModel({ classes: { A: { attributes: {} } } });
    assert.deepEqual(m.classes.get('A')?.reconciliation, []);
    assert.deepEqual(m.classes.get('A')?.attributes, []);
  });
});

describe('buildModel: validation errors name the class, the attribute and what is valid', () => {
  it('rejects something that is not a model', () => {
    rejects(null, '"classes"');
    rejects({}, '"classes"');
    rejects({ classes: 3 }, '"classes"');
  });

  it('rejects bad class names', () => {
    for (const bad of ['1Thing', '_Thing', 'Two words', 'Thing;DROP', '']) {
      rejects({ classes: { [bad]: { attributes: {} } } }, `class name "${bad}"`, 'letters, digits and _');
    }
  });

  it('rejects a class declared twice in different case', () => {
    rejects({ classes: { Thing: { attributes: {} }, thing: { attributes: {} } } }, 'thing', 'declared twice');
  });

  it('rejects a class without attributes', () => {
    rejects({ classes: { Thing: {} } }, 'class Thing', '"attributes"');
  });

  it('rejects an unknown type and lists the valid types', () => {
    const e = rejects(thing({ name: { type: 'str' as never } }), 'Thing.name', 'type "str"');
    for (const t of ['string', 'text', 'integer', 'decimal', 'boolean', 'date', 'datetime', 'enum', 'ref', 'links', 'password']) {
      assert.ok(e.message.includes(t), `${e.message} lists ${t}`);
    }
  });

  it('rejects a ref or links without class', () => {
    rejects(thing({ owner: { type: 'ref' } }), 'Thing.owner', 'ref attribute needs "class"');
    rejects(thing({ members: { type: 'links' } }), 'Thing.members', 'links attribute needs "class"');
  });

  it('rejects a ref to an undeclared class and lists the declared ones', () => {
    rejects(thing({ owner: { type: 'ref', class: 'Nope' } }), 'Thing.owner', 'class "Nope"', 'not declared', 'valid: Thing, Other');
    rejects(thing({ members: { type: 'links', class: 'Nope' } }), 'Thing.members', 'class "Nope"', 'valid: Thing, Other');
  });

  it('rejects an enum without values', () => {
    rejects(thing({ kind: { type: 'enum' } }), 'Thing.kind', 'enum needs "values"');
    rejects(thing({ kind: { type: 'enum', values: {} } }), 'Thing.kind', 'enum needs "values"');
  });

  it('rejects an enum default that is not one of the values, listing them', () => {
    rejects(thing({ kind: { type: 'enum', values: { a: 'Alpha', b: 'Beta' }, default: 'Alpha' } }), 'Thing.kind', 'default "Alpha"', '(a, b)');
    // a null default means "no default" and is fine
    assert.doesNotThrow(() => buildModel(thing({ kind: { type: 'enum', values: { a: 'Alpha' }, default: null } })));
  });

  it('rejects the reserved attribute codes, whatever their case', () => {
    for (const code of ['id', 'source', 'source_id', 'ID', 'Source_Id']) {
      rejects(thing({ [code]: { type: 'string' } }), `Thing.${code}`, `"${code}" is reserved`, 'id, source, source_id');
    }
  });

  it('rejects bad attribute codes and duplicates differing in case', () => {
    rejects(thing({ 'a-b': { type: 'string' } }), 'Thing.a-b', 'letters, digits and _');
    rejects(thing({ name: { type: 'string' }, Name: { type: 'string' } }), 'Thing.Name', 'declared twice');
  });

  it('rejects bad maxLength and pattern', () => {
    rejects(thing({ name: { type: 'string', maxLength: 0 } }), 'Thing.name', 'maxLength');
    rejects(thing({ name: { type: 'string', maxLength: 2.5 } }), 'Thing.name', 'maxLength');
    rejects(thing({ name: { type: 'string', pattern: '(' } }), 'Thing.name', 'pattern "("');
  });

  it('rejects unique links and passwords', () => {
    rejects(thing({ pw: { type: 'password', unique: true } }), 'Thing.pw', 'password attribute cannot be unique');
    rejects(thing({ l: { type: 'links', class: 'Other', unique: true } }), 'Thing.l', 'links attribute cannot be unique');
  });

  it('rejects a reconciliation naming an unknown attribute, listing the valid ones', () => {
    rejects(thing({ name: { type: 'string' }, code: { type: 'string' } }, { reconciliation: ['nope'] }), 'Thing.reconciliation', '"nope"', 'valid: name, code');
  });

  it('rejects reconciliation on links or password attributes', () => {
    rejects(thing({ pw: { type: 'password' } }, { reconciliation: ['pw'] }), 'Thing.reconciliation', 'password', '"pw"');
    rejects(thing({ l: { type: 'links', class: 'Other' } }, { reconciliation: ['l'] }), 'Thing.reconciliation', 'links', '"l"');
  });

  it('rejects a link table that collides with a class name', () => {
    rejects(
      { classes: { Thing: { attributes: { others: { type: 'links', class: 'Other' } } }, Other: { attributes: {} }, Thing_others: { attributes: {} } } },
      'Thing_others',
      'collides',
    );
  });

  it('rejects a seed naming an unknown class', () => {
    rejects(thing({ name: { type: 'string' } }, {}, { seed: { Nope: [{ name: 'x' }] } }), 'seed', 'class "Nope"', 'not declared');
  });

  it('rejects a seed setting an unknown attribute or a reference', () => {
    rejects(thing({ name: { type: 'string' } }, {}, { seed: { Thing: [{ nope: 'x' }] } }), 'seed.Thing', '"nope"');
    rejects(thing({ o: { type: 'ref', class: 'Other' } }, {}, { seed: { Thing: [{ o: 1 }] } }), 'seed.Thing', '"o"');
  });
});

describe('findClass', () => {
  const model = buildModel(CMDB_MODEL, 'cmdb');

  it('finds a class by exact name or case-insensitively', () => {
    assert.equal(findClass(model, 'Person').name, 'Person');
    assert.equal(findClass(model, 'person').name, 'Person');
    assert.equal(findClass(model, 'USERLOCAL').name, 'UserLocal');
  });

  it('fails with a usage error listing the valid classes', () => {
    let caught: unknown;
    try {
      findClass(model, 'Persons');
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof SluiceError);
    assert.equal(caught.code, 'E_USAGE');
    assert.equal(caught.option, '--class');
    assert.match(caught.message, /unknown class "Persons" for --class/);
    for (const c of ['Organization', 'Location', 'Person', 'Team', 'Profile', 'UserLocal', 'Software', 'Server']) {
      assert.ok(caught.message.includes(c), `${caught.message} lists ${c}`);
    }
  });

  it('names the option it was asked for', () => {
    assert.throws(() => findClass(model, 'x', '--source-class'), (e: unknown) => e instanceof SluiceError && e.option === '--source-class' && e.message.includes('--source-class'));
  });
});

describe('findAttribute', () => {
  // `name` is labelled "Title" and `title` is labelled "Name": a code must win over a label.
  const model = buildModel({
    classes: {
      Doc: {
        attributes: {
          name: { type: 'string', label: 'Title' },
          title: { type: 'string', label: 'Name' },
          summary: { type: 'text', label: 'Short Summary' },
        },
      },
    },
  });
  const doc = model.classes.get('Doc');
  assert.ok(doc);

  it('finds by code, case-insensitively', () => {
    assert.equal(findAttribute(doc, 'summary')?.code, 'summary');
    assert.equal(findAttribute(doc, 'SUMMARY')?.code, 'summary');
  });

  it('finds by label, case-insensitively', () => {
    assert.equal(findAttribute(doc, 'Short Summary')?.code, 'summary');
    assert.equal(findAttribute(doc, 'short SUMMARY')?.code, 'summary');
  });

  it('prefers a code over another attribute\'s label, in any case', () => {
    assert.equal(findAttribute(doc, 'name')?.code, 'name');
    assert.equal(findAttribute(doc, 'Name')?.code, 'name');
    assert.equal(findAttribute(doc, 'NAME')?.code, 'name');
    assert.equal(findAttribute(doc, 'Title')?.code, 'title');
    assert.equal(findAttribute(doc, 'title')?.code, 'title');
  });

  it('returns undefined when nothing matches', () => {
    assert.equal(findAttribute(doc, 'nope'), undefined);
    assert.equal(findAttribute(doc, ''), undefined);
  });

  it('resolves the cmdb labels iTop files use', () => {
    const cmdb = buildModel(CMDB_MODEL, 'cmdb');
    const person = cmdb.classes.get('Person');
    assert.ok(person);
    assert.equal(findAttribute(person, 'Last Name')?.code, 'name');
    assert.equal(findAttribute(person, 'Notification')?.code, 'notify');
    assert.equal(findAttribute(person, 'Organization')?.code, 'org_id');
  });
});
