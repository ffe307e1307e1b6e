import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { castValue, emptyValue, type Cast, type CastOptions } from '../../../src/rows/cast.js';
import { compileDateFormat } from '../../../src/rows/dates.js';
import { SluiceError } from '../../../src/base/errors.js';
import type { Attribute, AttrType } from '../../../src/model/types.js';

function attr(type: AttrType, extra: Partial<Attribute> = {}): Attribute {
  return {
    code: 'a',
    label: 'A',
    type,
    mandatory: false,
    unique: false,
    default: undefined,
    maxLength: undefined,
    pattern: undefined,
    values: undefined,
    target: undefined,
    itemKey: undefined,
    linkTable: undefined,
    ...extra,
  };
}

const iso: CastOptions = { dates: compileDateFormat(undefined) };

function value(c: Cast): unknown {
  assert.ok(c.ok, c.ok ? '' : c.message);
  return c.value;
}

function message(c: Cast): string {
  assert.ok(!c.ok, `expected an error, got ${JSON.stringify(c)}`);
  return c.message;
}

describe('castValue: string, text, password', () => {
  it('keeps strings as they are', () => {
    assert.equal(value(castValue(attr('string'), ' two words ', iso)), ' two words ');
    assert.equal(value(castValue(attr('text'), 'line 1\nline 2', iso)), 'line 1\nline 2');
    assert.equal(value(castValue(attr('password'), ' s3cret ', iso)), ' s3cret ');
  });

  it('counts maxLength in code points', () => {
    const a = attr('string', { maxLength: 5 });
    assert.equal(value(castValue(a, 'abcde', iso)), 'abcde');
    // five astral characters are ten UTF-16 units
    assert.equal(value(castValue(a, '😀😀😀😀😀', iso)), '😀😀😀😀😀');
    assert.equal(message(castValue(a, 'abcdef', iso)), '"abcdef" is longer than 5 characters');
    assert.equal(message(castValue(a, '😀😀😀😀😀😀', iso)), '"😀😀😀😀😀😀" is longer than 5 characters');
    assert.equal(message(castValue(attr('string', { maxLength: 1 }), 'xy', iso)), '"xy" is longer than 1 character');
  });

  it('tests the pattern with the u flag, as written', () => {
    const a = attr('string', { pattern: '^[A-Z]{2}\\d+$' });
    assert.equal(value(castValue(a, 'FR123', iso)), 'FR123');
    assert.equal(message(castValue(a, 'fr123', iso)), '"fr123" does not match the pattern ^[A-Z]{2}\\d+$');
    // unanchored patterns match anywhere
    assert.equal(value(castValue(attr('string', { pattern: '\\d' }), 'ab1c', iso)), 'ab1c');
    // u flag: \p{L} and . over astral characters
    const u = attr('string', { pattern: '^\\p{L}.$' });
    assert.equal(value(castValue(u, 'é😀', iso)), 'é😀');
    // the cached RegExp keeps working (no lastIndex state)
    for (let i = 0; i < 3; i++) assert.equal(value(castValue(a, 'AB1', iso)), 'AB1');
  });
});

describe('castValue: integer', () => {
  const a = attr('integer');
  it('accepts signed integers', () => {
    assert.equal(value(castValue(a, '42', iso)), 42);
    assert.equal(value(castValue(a, '-42', iso)), -42);
    assert.equal(value(castValue(a, '+7', iso)), 7);
    assert.equal(value(castValue(a, '007', iso)), 7);
    assert.ok(Object.is(value(castValue(a, '-0', iso)), 0));
    assert.equal(value(castValue(a, '9007199254740991', iso)), 9007199254740991);
    assert.equal(value(castValue(a, '-9007199254740991', iso)), -9007199254740991);
    assert.equal(value(castValue(a, ' 12 ', iso)), 12);
  });
  it('rejects non-integers', () => {
    for (const bad of ['abc', '1.0', '1e3', '1,000', '0x10', '+', '-', '1 2', 'Infinity', '']) {
      assert.equal(message(castValue(a, bad, iso)), `${JSON.stringify(bad)} is not an integer`);
    }
  });
  it('rejects unsafe integers', () => {
    assert.equal(
      message(castValue(a, '9007199254740992', iso)),
      '"9007199254740992" is out of range for an integer (at most ±9007199254740991)',
    );
  });
});

describe('castValue: decimal', () => {
  const a = attr('decimal');
  it('accepts . as the decimal point, a sign and an exponent', () => {
    assert.equal(value(castValue(a, '1.5', iso)), 1.5);
    assert.equal(value(castValue(a, '-0.25', iso)), -0.25);
    assert.equal(value(castValue(a, '+3', iso)), 3);
    assert.equal(value(castValue(a, '.5', iso)), 0.5);
    assert.equal(value(castValue(a, '2.', iso)), 2);
    assert.equal(value(castValue(a, '1e3', iso)), 1000);
    assert.equal(value(castValue(a, '1.5E-2', iso)), 0.015);
    assert.ok(Object.is(value(castValue(a, '-0.0', iso)), 0));
  });
  it('rejects commas, NaN, Infinity and junk', () => {
    assert.equal(message(castValue(a, '1,5', iso)), '"1,5" is not a decimal number (use . as the decimal point)');
    for (const bad of ['NaN', 'Infinity', '-Infinity', 'abc', '.', '1.2.3', '1e', '0x1A', '1_000']) {
      assert.equal(message(castValue(a, bad, iso)), `${JSON.stringify(bad)} is not a decimal number`);
    }
    assert.equal(message(castValue(a, '1e999', iso)), '"1e999" is out of range for a decimal number');
  });
});

describe('castValue: boolean', () => {
  const a = attr('boolean');
  it('maps yes/no, true/false, 1/0, y/n case-insensitively to 1/0', () => {
    for (const t of ['yes', 'YES', 'true', 'True', '1', 'y', 'Y']) assert.equal(value(castValue(a, t, iso)), 1, t);
    for (const f of ['no', 'No', 'false', 'FALSE', '0', 'n', 'N']) assert.equal(value(castValue(a, f, iso)), 0, f);
  });
  it('rejects anything else, listing the valid values', () => {
    assert.equal(message(castValue(a, 'maybe', iso)), '"maybe" is not a boolean (valid: yes/no, true/false, 1/0, y/n)');
    assert.equal(message(castValue(a, 'on', iso)), '"on" is not a boolean (valid: yes/no, true/false, 1/0, y/n)');
  });
});

describe('castValue: enum', () => {
  const a = attr('enum', { values: { active: 'Active', inactive: 'Inactive' } });
  it('matches a code, then a label, case-insensitively, and stores the code', () => {
    assert.equal(value(castValue(a, 'active', iso)), 'active');
    assert.equal(value(castValue(a, 'INACTIVE', iso)), 'inactive');
    assert.equal(value(castValue(a, 'Active', iso)), 'active');
    const b = attr('enum', { values: { p1: 'Critical', p2: 'High' } });
    assert.equal(value(castValue(b, 'critical', iso)), 'p1');
    assert.equal(value(castValue(b, 'P2', iso)), 'p2');
  });
  it('prefers a code over another value\'s label', () => {
    const b = attr('enum', { values: { low: 'High', high: 'Low' } });
    assert.equal(value(castValue(b, 'high', iso)), 'high');
    assert.equal(value(castValue(b, 'LOW', iso)), 'low');
  });
  it('keeps codes that differ only in case distinct', () => {
    const b = attr('enum', { values: { A: 'Upper', a: 'Lower' } });
    assert.equal(value(castValue(b, 'a', iso)), 'a');
    assert.equal(value(castValue(b, 'A', iso)), 'A');
  });
  it('lists the valid values in the error', () => {
    assert.equal(
      message(castValue(a, 'Actve', iso)),
      '"Actve" is not a valid value (valid: active (Active), inactive (Inactive))',
    );
    const same = attr('enum', { values: { on: 'on', off: 'off' } });
    assert.equal(message(castValue(same, 'x', iso)), '"x" is not a valid value (valid: on, off)');
  });
  it('cuts a long list of values', () => {
    const values: Record<string, string> = {};
    for (let i = 1; i <= 25; i++) values[`v${i}`] = `v${i}`;
    const m = message(castValue(attr('enum', { values }), 'x', iso));
    assert.match(m, /v20, and 5 more\)$/);
    assert.doesNotMatch(m, /v21/);
  });
});

describe('castValue: date and datetime', () => {
  it('uses ISO 8601 by default', () => {
    assert.equal(value(castValue(attr('date'), '2024-02-29', iso)), '2024-02-29');
    assert.equal(value(castValue(attr('datetime'), '2024-03-07T10:00:00+01:00', iso)), '2024-03-07 09:00:00');
    assert.equal(message(castValue(attr('date'), '2023-02-29', iso)), '"2023-02-29" is not a date in the format YYYY-MM-DD (ISO 8601)');
    assert.equal(
      message(castValue(attr('datetime'), 'yesterday', iso)),
      '"yesterday" is not a date and time in the format YYYY-MM-DD HH:MM:SS (ISO 8601)',
    );
  });
  it('says when a date carries a time of day', () => {
    assert.equal(
      message(castValue(attr('date'), '2024-03-07 10:30', iso)),
      '"2024-03-07 10:30" has a time of day; a date accepts only midnight (format YYYY-MM-DD (ISO 8601))',
    );
  });
  it('uses the given format and names it in the error', () => {
    const opts: CastOptions = { dates: compileDateFormat('d/m/Y') };
    assert.equal(value(castValue(attr('date'), '29/02/2024', opts)), '2024-02-29');
    assert.equal(value(castValue(attr('datetime'), '29/02/2024', opts)), '2024-02-29 00:00:00');
    assert.equal(message(castValue(attr('date'), '31/02/2024', opts)), '"31/02/2024" is not a date in the format d/m/Y');
    assert.equal(message(castValue(attr('datetime'), '2024-02-29', opts)), '"2024-02-29" is not a date and time in the format d/m/Y');
  });
});

describe('castValue: ref', () => {
  const a = attr('ref', { target: 'Organization' });
  it('takes a positive safe integer id', () => {
    assert.equal(value(castValue(a, '12', iso)), 12);
    assert.equal(value(castValue(a, '0012', iso)), 12);
  });
  it('rejects anything else', () => {
    for (const bad of ['0', '-3', '+3', '1.5', 'Demo', '9007199254740992']) {
      assert.equal(message(castValue(a, bad, iso)), `${JSON.stringify(bad)} is not an object id (a positive integer)`);
    }
  });
});

describe('castValue: links and messages', () => {
  it('refuses links attributes with an internal error', () => {
    assert.throws(
      () => castValue(attr('links', { target: 'Profile' }), 'Admin', iso),
      (err: unknown) => err instanceof SluiceError && err.code === 'E_INTERNAL',
    );
  });
  it('cuts long values to about 60 characters with an ellipsis', () => {
    const long = 'x'.repeat(200);
    const m = message(castValue(attr('integer'), long, iso));
    assert.equal(m, `"${'x'.repeat(59)}…" is not an integer`);
    const astral = '😀'.repeat(100);
    const n = message(castValue(attr('string', { maxLength: 3 }), astral, iso));
    assert.equal(n, `"${'😀'.repeat(59)}…" is longer than 3 characters`);
  });
  it('escapes control characters in quoted values', () => {
    assert.equal(message(castValue(attr('boolean'), 'a\nb', iso)), '"a\\nb" is not a boolean (valid: yes/no, true/false, 1/0, y/n)');
  });
});

describe('emptyValue', () => {
  it('is the empty string for text-like types and null otherwise', () => {
    for (const t of ['string', 'text', 'password'] as const) assert.equal(emptyValue(attr(t)), '');
    for (const t of ['integer', 'decimal', 'boolean', 'date', 'datetime', 'enum', 'ref', 'links'] as const) {
      assert.equal(emptyValue(attr(t)), null, t);
    }
  });
});
