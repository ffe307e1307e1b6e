/**
 * Engine bugs the model-based differential test found (or was built to find), each as the
 * smallest case that shows it, written out as it was shrunk. Each test states what the
 * reference applier expects of the case, then runs it through the engine under every
 * configuration and compares the two (check.ts).
 *
 * A test whose bug is still open is marked todo: it runs and reports, but does not fail the
 * suite. The differential test leaves the cases of its shape out (known-bugs.ts, the entry
 * of the same name). Once the bug is fixed: drop the todo and the known-bugs.ts entry.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Case } from './case.js';
import { checkCase, failureText } from './check.js';
import { STAGE_CONFIGS, THREAD_CONFIGS } from './engine.js';
import { KNOWN_BUGS } from './known-bugs.js';
import { type ReferenceRun, runReference } from './reference.js';

const ALL_CONFIGS = [...STAGE_CONFIGS, ...THREAD_CONFIGS];

/** The engine agrees with the reference applier on the case under every configuration. */
async function agrees(c: Case): Promise<void> {
  const v = await checkCase(c, ALL_CONFIGS, { skipKnownBugs: false });
  assert.equal(v.failures.length, 0, failureText(v));
}

/** [line, status, id, changed or message] of each row of a run, as the reference reports it. */
function rowsOf(run: ReferenceRun | undefined): [number, string, number | null, string?][] {
  assert.ok(run, 'no such run');
  return run.rows.map((r) => {
    const detail = r.changed?.join(',') ?? r.message;
    return detail === undefined ? [r.line, r.status, r.id] : [r.line, r.status, r.id, detail];
  });
}

/** A test pinned by a known-bugs.ts entry is todo while the entry is there. */
function todo(name: string): { todo?: string } {
  return KNOWN_BUGS.some((b) => b.test === name) ? { todo: 'open engine bug (known-bugs.ts)' } : {};
}

const MANAGERS: Case['model'] = {
  classes: {
    Person: {
      attributes: { name: { type: 'string' }, email: { type: 'string' }, manager_id: { type: 'ref', class: 'Person' } },
      reconciliation: ['email'],
    },
  },
};

const run = { action: 'upsert', ignoreEmpty: false, stopOnError: true, chunkSize: 0, simulate: false } as const;

const SELF_REF_BY_SOURCE = 'a self-reference re-resolved during the run is kept when the row matches by source or id';
test(SELF_REF_BY_SOURCE, todo(SELF_REF_BY_SOURCE), async () => {
  // A (a@x), D (d@x), B (b@x, managed by A); then A leaves a@x to D, and B's manager, given by
  // email, is D from row 3 on. The workers read "a@x is A" and "B is unchanged".
  const c: Case = {
    model: MANAGERS,
    runs: [
      { ...run, className: 'Person', keys: ['email'], lines: ['source,source_id,name,email,manager_id->email', 'crm,A,A,a@x,', 'crm,D,D,d@x,', 'crm,B,B,b@x,a@x'] },
      { ...run, className: 'Person', keys: ['email'], lines: ['source,source_id,email,manager_id->email', 'crm,A,z@x,', 'crm,D,a@x,', 'crm,B,b@x,a@x'] },
    ],
  };
  const ref = runReference(c);
  assert.deepEqual(rowsOf(ref[1]), [
    [2, 'updated', 1, 'email'],
    [3, 'updated', 2, 'email'],
    [4, 'updated', 3, 'manager_id'],
  ]);
  assert.equal(ref[1]?.snapshot.Person?.objects.find((o) => o.id === 3)?.values.manager_id, 2, "B's manager is D");
  await agrees(c);
});

const FINGERPRINT_AMBIGUITY = 'a fingerprint hit does not skip the ambiguity check';
test(FINGERPRINT_AMBIGUITY, todo(FINGERPRINT_AMBIGUITY), async () => {
  // Run 2 creates X from a record; run 3 first gives another object X's email, then repeats
  // that record, whose fingerprint is X's: it is ambiguous all the same.
  const header = 'source,source_id,name,email,org_id->name';
  const c: Case = {
    model: {
      classes: {
        Org: { attributes: { name: { type: 'string' } }, reconciliation: ['name'] },
        Person: { attributes: { name: { type: 'string' }, email: { type: 'string' }, org_id: { type: 'ref', class: 'Org' } }, reconciliation: ['email'] },
      },
    },
    runs: [
      { ...run, className: 'Org', lines: ['name', 'Demo'] },
      { ...run, className: 'Person', keys: ['email'], lines: [header, ',,Bar,a@x,Demo'] },
      { ...run, className: 'Person', keys: ['email'], lines: [header, 'crm,9,Foo,a@x,Demo', ',,Bar,a@x,Demo'] },
    ],
  };
  const ref = runReference(c);
  assert.deepEqual(rowsOf(ref[2]), [
    [2, 'created', 2],
    [3, 'error', null, 'ambiguous reconciliation: 2 objects match on email'],
  ]);
  assert.equal(ref[2]?.exitCode, 3);
  assert.deepEqual(ref[2]?.snapshot.Person?.objects.map((o) => o.id), [1], 'rolled back');
  await agrees(c);
});

const SELF_LINKS = 'a link set into the imported class sees the objects the run created or changed before it';
test(SELF_LINKS, todo(SELF_LINKS), async () => {
  // Row 2 moves A to z@x, row 3 names A by its new email, row 4 names B, created by row 3.
  const c: Case = {
    model: {
      classes: {
        Person: { attributes: { name: { type: 'string' }, email: { type: 'string' }, friends: { type: 'links', class: 'Person' } }, reconciliation: ['email'] },
      },
    },
    runs: [
      { ...run, className: 'Person', lines: ['name,email', 'A,a@x'] },
      { ...run, className: 'Person', keys: ['email'], lines: ['id,name,email,friends', '1,A,z@x,', ',B,b@x,z@x', ',C,c@x,b@x'] },
    ],
  };
  const ref = runReference(c);
  assert.deepEqual(rowsOf(ref[1]), [
    [2, 'updated', 1, 'email'],
    [3, 'created', 2],
    [4, 'created', 3],
  ]);
  assert.deepEqual(ref[1]?.snapshot.Person?.objects.map((o) => o.links.friends), [[], [1], [2]]);
  await agrees(c);
});

const NULL_PASSWORD = 'a <NULL> password on a null password is unchanged';
test(NULL_PASSWORD, todo(NULL_PASSWORD), async () => {
  // The second file differs from the first (its columns are in another order), so its record
  // is not matched by fingerprint and is compared attribute by attribute.
  const c: Case = {
    model: {
      classes: {
        Person: { attributes: { name: { type: 'string' }, email: { type: 'string' }, pw: { type: 'password' } }, reconciliation: ['email'] },
      },
    },
    runs: [
      { ...run, className: 'Person', keys: ['email'], lines: ['name,email,pw', 'A,a@x,<NULL>'] },
      { ...run, className: 'Person', keys: ['email'], lines: ['email,pw,name', 'a@x,<NULL>,A'] },
    ],
  };
  const ref = runReference(c);
  assert.deepEqual(rowsOf(ref[1]), [[2, 'unchanged', 1]]);
  assert.equal(ref[1]?.snapshot.Person?.objects[0]?.values.pw, null);
  await agrees(c);
});

const EMPTY_PASSWORD = 'no password, null or empty, is one state: <NULL> on an empty password is unchanged';
test(EMPTY_PASSWORD, async () => {
  // A person created without a pw column has an empty password (the type's empty value).
  const c: Case = {
    model: {
      classes: {
        Person: { attributes: { name: { type: 'string' }, email: { type: 'string' }, pw: { type: 'password' } }, reconciliation: ['email'] },
      },
    },
    runs: [
      { ...run, className: 'Person', keys: ['email'], lines: ['name,email', 'A,a@x'] },
      { ...run, className: 'Person', lines: ['source,pw,id,source_id', 'crm,<NULL>,1,1'] },
      { ...run, className: 'Person', keys: ['email'], lines: ['email,pw,name', 'a@x,,A'] },
    ],
  };
  const ref = runReference(c);
  assert.deepEqual(rowsOf(ref[1]), [[2, 'updated', 1, 'source,source_id']]);
  assert.deepEqual(rowsOf(ref[2]), [[2, 'unchanged', 1]]);
  assert.equal(ref[2]?.snapshot.Person?.objects[0]?.values.pw, '');
  await agrees(c);
});

const SELF_KEY_WARNING = 'a key given by a reference into the imported class is not empty when the workers cannot resolve it';
test(SELF_KEY_WARNING, todo(SELF_KEY_WARNING), async () => {
  // Keyed by manager: row 2's manager is empty (a warning, rightly), row 3's is A, created by
  // row 2, which the workers cannot see; row 4's names nobody.
  const c: Case = {
    model: MANAGERS,
    runs: [{ ...run, className: 'Person', keys: ['manager_id'], stopOnError: false, lines: ['name,email,manager_id->email', 'A,a@x,', 'B,b@x,a@x', 'C,c@x,z@x'] }],
  };
  const ref = runReference(c);
  assert.deepEqual(rowsOf(ref[0]), [
    [2, 'created', 1],
    [3, 'created', 2],
    [4, 'error', null, 'column "manager_id->email": no Person matches "z@x"; existing values: a@x, b@x'],
  ]);
  assert.deepEqual(
    ref[0]?.rows.map((r) => r.warnings),
    [['empty reconciliation key manager_id->email matches objects where it is empty'], undefined, undefined],
  );
  await agrees(c);
});

const UNIQUE_FIRST = 'a row that breaks a unique attribute and the source pair names the attribute, whichever run made the indexes';
test(UNIQUE_FIRST, async () => {
  // Run 1 carries source pairs into the empty class: the pair index is built at its end.
  const c: Case = {
    model: {
      classes: {
        Person: { attributes: { name: { type: 'string' }, email: { type: 'string', unique: true } }, reconciliation: ['email'] },
      },
    },
    runs: [
      { ...run, className: 'Person', keys: ['email'], lines: ['name,email,source,source_id', 'A,a@x,crm,1', 'B,b@x,crm,2'] },
      { ...run, className: 'Person', stopOnError: false, lines: ['id,email,source,source_id', '2,a@x,crm,1'] },
    ],
  };
  const ref = runReference(c);
  assert.deepEqual(rowsOf(ref[1]), [[2, 'error', null, 'email must be unique: the value is already used by another Person']]);
  await agrees(c);
});
