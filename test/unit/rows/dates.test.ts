import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileDateFormat } from '../../../src/rows/dates.js';
import { SluiceError } from '../../../src/base/errors.js';

function throwsUsage(format: string, mentions: RegExp): void {
  assert.throws(
    () => compileDateFormat(format),
    (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'E_USAGE');
      assert.equal(err.option, '--date-format');
      assert.match(err.message, mentions);
      assert.match(err.message, /valid tokens: /);
      return true;
    },
  );
}

describe('ISO 8601 (no --date-format)', () => {
  const iso = compileDateFormat(undefined);

  it('names its format', () => {
    assert.equal(iso.format, 'ISO 8601');
  });

  it('parses plain dates and rejects impossible ones', () => {
    assert.equal(iso.parseDate('2024-03-07'), '2024-03-07');
    assert.equal(iso.parseDate('0001-01-01'), '0001-01-01');
    assert.equal(iso.parseDate('2024-02-29'), '2024-02-29');
    assert.equal(iso.parseDate('2023-02-29'), null);
    assert.equal(iso.parseDate('1900-02-29'), null);
    assert.equal(iso.parseDate('2000-02-29'), '2000-02-29');
    assert.equal(iso.parseDate('2024-04-31'), null);
    assert.equal(iso.parseDate('2024-13-01'), null);
    assert.equal(iso.parseDate('2024-00-10'), null);
    assert.equal(iso.parseDate('2024-01-00'), null);
  });

  it('rejects malformed text', () => {
    for (const bad of ['', '2024', '2024-3-07', '2024/03/07', '24-03-07', '2024-03-07x', '20240307', ' 2024-03-07', '2024-03-07 ', 'abcd-ef-gh', '2024-03-07Z']) {
      assert.equal(iso.parseDate(bad), null, bad);
      assert.equal(iso.parseDateTime(bad), null, bad);
    }
  });

  it('accepts a date written as midnight, rejects other times', () => {
    assert.equal(iso.parseDate('2024-03-07 00:00'), '2024-03-07');
    assert.equal(iso.parseDate('2024-03-07T00:00:00'), '2024-03-07');
    assert.equal(iso.parseDate('2024-03-07T00:00:00.000Z'), '2024-03-07');
    // the calendar day is kept as written, the offset only locates that midnight
    assert.equal(iso.parseDate('2024-03-07T00:00:00+02:00'), '2024-03-07');
    assert.equal(iso.parseDate('2024-03-07 00:00:01'), null);
    assert.equal(iso.parseDate('2024-03-07 12:00'), null);
    assert.equal(iso.parseDate('2024-03-07T00:00:00.5'), null);
  });

  it('parses datetimes with minutes, seconds, T or space', () => {
    assert.equal(iso.parseDateTime('2024-03-07'), '2024-03-07 00:00:00');
    assert.equal(iso.parseDateTime('2024-03-07 09:05'), '2024-03-07 09:05:00');
    assert.equal(iso.parseDateTime('2024-03-07 09:05:33'), '2024-03-07 09:05:33');
    assert.equal(iso.parseDateTime('2024-03-07T23:59:59'), '2024-03-07 23:59:59');
    assert.equal(iso.parseDateTime('2024-03-07t23:59'), '2024-03-07 23:59:00');
  });

  it('drops fractional seconds', () => {
    assert.equal(iso.parseDateTime('2024-03-07T09:05:33.987654'), '2024-03-07 09:05:33');
    assert.equal(iso.parseDateTime('2024-03-07T09:05:33,5'), '2024-03-07 09:05:33');
    assert.equal(iso.parseDateTime('2024-03-07T09:05:33.'), null);
  });

  it('rejects out-of-range times', () => {
    assert.equal(iso.parseDateTime('2024-03-07 24:00'), null);
    assert.equal(iso.parseDateTime('2024-03-07 23:60'), null);
    assert.equal(iso.parseDateTime('2024-03-07 23:59:60'), null);
    assert.equal(iso.parseDateTime('2024-03-07 9:05'), null);
    assert.equal(iso.parseDateTime('2024-03-07 09'), null);
    assert.equal(iso.parseDateTime('2024-03-07 09:05:3'), null);
  });

  it('converts offsets to UTC, across day, month and year boundaries', () => {
    assert.equal(iso.parseDateTime('2024-03-07T09:05:00Z'), '2024-03-07 09:05:00');
    assert.equal(iso.parseDateTime('2024-03-07T09:05:00z'), '2024-03-07 09:05:00');
    assert.equal(iso.parseDateTime('2024-03-07T09:05:00+02:00'), '2024-03-07 07:05:00');
    assert.equal(iso.parseDateTime('2024-03-07T09:05:00-05:30'), '2024-03-07 14:35:00');
    assert.equal(iso.parseDateTime('2024-03-07T09:05+0530'), '2024-03-07 03:35:00');
    assert.equal(iso.parseDateTime('2024-03-07T09:05-03'), '2024-03-07 12:05:00');
    assert.equal(iso.parseDateTime('2024-01-01T01:00:00+02:00'), '2023-12-31 23:00:00');
    assert.equal(iso.parseDateTime('2024-02-28T23:30:00-01:00'), '2024-02-29 00:30:00');
    assert.equal(iso.parseDateTime('2023-02-28T23:30:00-01:00'), '2023-03-01 00:30:00');
    assert.equal(iso.parseDateTime('0050-06-01T12:00:00+01:00'), '0050-06-01 11:00:00');
    assert.equal(iso.parseDateTime('2024-03-07T09:05:00.123+00:00'), '2024-03-07 09:05:00');
  });

  it('rejects malformed offsets', () => {
    for (const bad of ['2024-03-07T09:05:00+2', '2024-03-07T09:05:00+02:', '2024-03-07T09:05:00+24:00', '2024-03-07T09:05:00+02:60', '2024-03-07T09:05:00Z1', '2024-03-07T09:05:00 +02:00', '2024-03-07T09:05:00+02:00:00']) {
      assert.equal(iso.parseDateTime(bad), null, bad);
    }
  });
});

describe('PHP-style formats', () => {
  it('d/m/Y parses, validates and rejects other layouts', () => {
    const p = compileDateFormat('d/m/Y');
    assert.equal(p.format, 'd/m/Y');
    assert.equal(p.parseDate('07/03/2024'), '2024-03-07');
    assert.equal(p.parseDate('7/3/2024'), '2024-03-07');
    assert.equal(p.parseDate('29/02/2024'), '2024-02-29');
    assert.equal(p.parseDate('29/02/2023'), null);
    assert.equal(p.parseDate('31/02/2024'), null);
    assert.equal(p.parseDate('2024-03-07'), null);
    assert.equal(p.parseDate('07/03/24'), null);
    assert.equal(p.parseDate('07-03-2024'), null);
    assert.equal(p.parseDateTime('07/03/2024'), '2024-03-07 00:00:00');
  });

  it('j n y: no leading zeros and two-digit years pivot at 70', () => {
    const p = compileDateFormat('j.n.y');
    assert.equal(p.parseDate('7.3.24'), '2024-03-07');
    assert.equal(p.parseDate('1.1.00'), '2000-01-01');
    assert.equal(p.parseDate('31.12.69'), '2069-12-31');
    assert.equal(p.parseDate('1.1.70'), '1970-01-01');
    assert.equal(p.parseDate('1.1.99'), '1999-01-01');
    assert.equal(p.parseDate('29.2.00'), '2000-02-29');
    assert.equal(p.parseDate('7.3.2024'), null);
    // the dot is a literal, not "any character"
    assert.equal(p.parseDate('7x3x24'), null);
  });

  it('H:i:s and G with a date part', () => {
    const p = compileDateFormat('d/m/Y H:i:s');
    assert.equal(p.parseDateTime('07/03/2024 13:45:09'), '2024-03-07 13:45:09');
    assert.equal(p.parseDateTime('07/03/2024 3:45:09'), '2024-03-07 03:45:09');
    assert.equal(p.parseDateTime('07/03/2024 24:00:00'), null);
    assert.equal(p.parseDateTime('07/03/2024 13:60:00'), null);
    assert.equal(p.parseDateTime('07/03/2024 13:45:60'), null);
    assert.equal(p.parseDateTime('07/03/2024 13:45'), null);
    const g = compileDateFormat('Y-m-d G:i');
    assert.equal(g.parseDateTime('2024-03-07 9:05'), '2024-03-07 09:05:00');
  });

  it('a date column takes the whole format at midnight or only its date part', () => {
    const p = compileDateFormat('d/m/Y H:i');
    assert.equal(p.parseDate('07/03/2024'), '2024-03-07');
    assert.equal(p.parseDate('07/03/2024 00:00'), '2024-03-07');
    assert.equal(p.parseDate('07/03/2024 10:30'), null);
    assert.equal(p.parseDateTime('07/03/2024'), '2024-03-07 00:00:00');
    assert.equal(p.parseDateTime('07/03/2024 10:30'), '2024-03-07 10:30:00');
    const t = compileDateFormat('Y-m-d\\TH:i');
    assert.equal(t.parseDate('2024-03-07'), '2024-03-07');
    assert.equal(t.parseDateTime('2024-03-07T10:30'), '2024-03-07 10:30:00');
    assert.equal(t.parseDateTime('2024-03-07 10:30'), null);
  });

  it('h/g need A/a and map 12 AM to 0 and 12 PM to 12', () => {
    const p = compileDateFormat('d/m/Y h:i A');
    assert.equal(p.parseDateTime('07/03/2024 12:15 AM'), '2024-03-07 00:15:00');
    assert.equal(p.parseDateTime('07/03/2024 12:15 PM'), '2024-03-07 12:15:00');
    assert.equal(p.parseDateTime('07/03/2024 01:15 pm'), '2024-03-07 13:15:00');
    assert.equal(p.parseDateTime('07/03/2024 11:59 am'), '2024-03-07 11:59:00');
    assert.equal(p.parseDateTime('07/03/2024 00:15 AM'), null);
    assert.equal(p.parseDateTime('07/03/2024 13:15 PM'), null);
    assert.equal(p.parseDateTime('07/03/2024 01:15 XM'), null);
    assert.equal(p.parseDate('07/03/2024 12:00 am'), '2024-03-07');
    const g = compileDateFormat('n/j/Y g:ia');
    assert.equal(g.parseDateTime('3/7/2024 9:05pm'), '2024-03-07 21:05:00');
  });

  it('M F month names, English and case-insensitive', () => {
    const p = compileDateFormat('d M Y');
    assert.equal(p.parseDate('07 Mar 2024'), '2024-03-07');
    assert.equal(p.parseDate('07 mar 2024'), '2024-03-07');
    assert.equal(p.parseDate('07 SEPT 2024'), '2024-09-07');
    assert.equal(p.parseDate('07 March 2024'), '2024-03-07');
    assert.equal(p.parseDate('07 Mrz 2024'), null);
    assert.equal(p.parseDate('30 Feb 2024'), null);
    const f = compileDateFormat('F j, Y');
    assert.equal(f.parseDate('February 29, 2024'), '2024-02-29');
    assert.equal(f.parseDate('december 1, 1999'), '1999-12-01');
  });

  it('D l weekday names are matched and ignored', () => {
    const p = compileDateFormat('D, d M Y H:i');
    assert.equal(p.parseDateTime('Thu, 07 Mar 2024 10:00'), '2024-03-07 10:00:00');
    // not checked against the date
    assert.equal(p.parseDateTime('Mon, 07 Mar 2024 10:00'), '2024-03-07 10:00:00');
    assert.equal(p.parseDateTime('Xyz, 07 Mar 2024 10:00'), null);
    assert.equal(p.parseDate('Thu, 07 Mar 2024'), '2024-03-07');
    const l = compileDateFormat('l d/m/Y');
    assert.equal(l.parseDate('wednesday 06/03/2024'), '2024-03-06');
  });

  it('backslash escapes a token letter; other characters are literal', () => {
    const p = compileDateFormat('\\d\\a\\y d \\o\\f m Y');
    assert.equal(p.parseDate('day 07 of 03 2024'), '2024-03-07');
    const q = compileDateFormat('Y.m.d (*)');
    assert.equal(q.parseDate('2024.03.07 (*)'), '2024-03-07');
    assert.equal(q.parseDate('2024.03.07 (x)'), null);
  });

  it('rejects bad formats with a usage error naming the problem', () => {
    throwsUsage('m/Y', /no day token/);
    throwsUsage('d/Y', /no month token/);
    throwsUsage('d/m', /no year token/);
    throwsUsage('', /no day token/);
    throwsUsage('d/m/Y\\', /escapes nothing/);
    throwsUsage('d/m/Y h:i', /12-hour token h without an AM\/PM token/);
    throwsUsage('d/m/Y H:i A', /AM\/PM token A without a 12-hour/);
    throwsUsage('d/j/m/Y', /two day tokens \(d and j\)/);
    throwsUsage('d/m/M/Y', /two month tokens/);
  });
});

describe('strftime-style formats', () => {
  it('%d/%m/%Y and %e %b %y', () => {
    const p = compileDateFormat('%d/%m/%Y');
    assert.equal(p.format, '%d/%m/%Y');
    assert.equal(p.parseDate('07/03/2024'), '2024-03-07');
    assert.equal(p.parseDate('29/02/2023'), null);
    const e = compileDateFormat('%e %b %y');
    assert.equal(e.parseDate('7 Mar 24'), '2024-03-07');
    assert.equal(e.parseDate(' 7 Mar 24'), '2024-03-07');
    assert.equal(e.parseDate('7 Mar 71'), '1971-03-07');
  });

  it('%F %T shorthands', () => {
    const p = compileDateFormat('%F %T');
    assert.equal(p.parseDateTime('2024-03-07 13:45:09'), '2024-03-07 13:45:09');
    assert.equal(p.parseDate('2024-03-07'), '2024-03-07');
    assert.equal(p.parseDate('2024-03-07 00:00:00'), '2024-03-07');
    assert.equal(p.parseDateTime('2024-02-30 13:45:09'), null);
  });

  it('%H %M %S and %I %p', () => {
    const p = compileDateFormat('%Y%m%d %H%M%S');
    assert.equal(p.parseDateTime('20240307 134509'), '2024-03-07 13:45:09');
    const q = compileDateFormat('%m/%d/%Y %I:%M %p');
    assert.equal(q.parseDateTime('03/07/2024 12:00 AM'), '2024-03-07 00:00:00');
    assert.equal(q.parseDateTime('03/07/2024 07:30 pm'), '2024-03-07 19:30:00');
    assert.equal(q.parseDateTime('03/07/2024 13:30 pm'), null);
  });

  it('%B %a %A names', () => {
    const p = compileDateFormat('%A %d %B %Y');
    assert.equal(p.parseDate('Thursday 07 MARCH 2024'), '2024-03-07');
    assert.equal(p.parseDate('Thursday 07 Marzo 2024'), null);
    const a = compileDateFormat('%a %d %b %Y');
    assert.equal(a.parseDate('thu 07 mar 2024'), '2024-03-07');
  });

  it('%% is a literal percent sign and plain letters are literal', () => {
    const p = compileDateFormat('%Y-%m-%d%%T');
    assert.equal(p.parseDate('2024-03-07%T'), '2024-03-07');
    const q = compileDateFormat('%Y-%m-%dT%H:%M');
    assert.equal(q.parseDateTime('2024-03-07T08:09'), '2024-03-07 08:09:00');
    assert.equal(q.parseDate('2024-03-07'), '2024-03-07');
  });

  it('rejects bad formats with a usage error naming the problem', () => {
    throwsUsage('%d/%m/%Q', /unknown token %Q/);
    throwsUsage('%d/%m/%Y %', /lone %/);
    throwsUsage('%m/%Y', /no day token/);
    throwsUsage('%F %d', /two day tokens \(%F and %d\)/);
    throwsUsage('%F %I:%M', /12-hour token %I without/);
  });
});
