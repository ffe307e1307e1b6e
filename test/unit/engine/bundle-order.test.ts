import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../../../src/base/errors.js';
import { type OrderNode, bundleOrder, referencesOf } from '../../../src/engine/bundle-order.js';
import { CMDB_MODEL } from '../../../src/model/cmdb.js';
import { buildModel } from '../../../src/model/load.js';
import { buildPlan } from '../../../src/rows/header.js';

const model = buildModel(CMDB_MODEL);

/** A node for a file of `className` with these header columns, as a bundle plans it. */
function node(name: string, className: string, header: string[]): OrderNode {
  const cls = model.classes.get(className);
  assert.ok(cls);
  const plan = buildPlan(model, cls, header, { keys: undefined, action: 'upsert', ignoreEmpty: false });
  return { name, className, refersTo: referencesOf(plan) };
}

const names = (nodes: OrderNode[]): string[] => bundleOrder(nodes).map((k) => (nodes[k] as OrderNode).className);

describe('bundle order', () => {
  it('finds what a file refers to: references and link sets, by column, not its own class', () => {
    const n = node('Person.csv', 'Person', ['name', 'org_id->name', 'Location->Name', 'manager_id->email']);
    assert.deepEqual([...n.refersTo], [
      ['Organization', ['org_id->name']],
      ['Location', ['Location->Name']],
    ]);
    const u = node('UserLocal.csv', 'UserLocal', ['Contact (person)->Email', 'login', 'Profiles']);
    assert.deepEqual([...u.refersTo], [
      ['Person', ['Contact (person)->Email']],
      ['Profile', ['Profiles']],
    ]);
  });

  it('puts the iTop demo classes in dependency order whatever order they come in', () => {
    const nodes = [
      node('1-UserLocal.csv', 'UserLocal', ['Contact (person)->Email', 'Login', 'Profiles']),
      node('2-Person.csv', 'Person', ['Last Name', 'Organization->Name', 'Location->Name']),
      node('3-Location.csv', 'Location', ['Name', 'Owner organization->Name']),
      node('4-Organization.csv', 'Organization', ['Name', 'parent_id->name']),
    ];
    assert.deepEqual(names(nodes), ['Organization', 'Location', 'Person', 'UserLocal']);
    // Reversed input, same order out.
    assert.deepEqual(names([...nodes].reverse()), ['Organization', 'Location', 'Person', 'UserLocal']);
  });

  it('keeps the given order between files that do not depend on each other', () => {
    const nodes = [node('Software.csv', 'Software', ['name', 'vendor', 'version']), node('Person.csv', 'Person', ['name']), node('Organization.csv', 'Organization', ['name'])];
    assert.deepEqual(names(nodes), ['Software', 'Person', 'Organization']);
    // A reference to a class not in the bundle does not order anything.
    assert.deepEqual(names([node('Person.csv', 'Person', ['name', 'org_id->name']), node('Software.csv', 'Software', ['name'])]), ['Person', 'Software']);
  });

  it('refuses a cycle, naming its classes, files and columns', () => {
    const nodes: OrderNode[] = [
      { name: 'Software.csv', className: 'Software', refersTo: new Map() },
      { name: 'a.csv', className: 'A', refersTo: new Map([['B', ['b_id->name']]]) },
      { name: 'b.csv', className: 'B', refersTo: new Map([['C', ['c_id->name', 'c2->code']]]) },
      { name: 'c.csv', className: 'C', refersTo: new Map([['A', ['a_id->name']]]) },
    ];
    let err: unknown;
    try {
      bundleOrder(nodes);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof SluiceError);
    assert.equal(err.code, 'E_USAGE');
    assert.equal(err.option, '--bundle');
    assert.match(err.message, /the files refer to each other in a cycle, A → B → C → A/);
    assert.match(err.message, /a\.csv \(A\) refers to B by "b_id->name"; b\.csv \(B\) refers to C by "c_id->name", "c2->code"; c\.csv \(C\) refers to A by "a_id->name"/);
  });

  it('names the cycle among the files it cannot order, not those before it', () => {
    const nodes: OrderNode[] = [
      { name: 'x.csv', className: 'X', refersTo: new Map([['Y', ['y']]]) },
      { name: 'y.csv', className: 'Y', refersTo: new Map([['Z', ['z']]]) },
      { name: 'z.csv', className: 'Z', refersTo: new Map([['Y', ['y']]]) },
    ];
    assert.throws(() => bundleOrder(nodes), (e: Error) => /cycle, Y → Z → Y:/.test(e.message) && !/X →/.test(e.message));
  });
});
