import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError, asSluiceError, escapeControls, exitCodeFor, quoted } from '../../../src/base/errors.js';
import { rawControl } from '../../helpers/hostile.js';

describe('quoted', () => {
  it('quotes text and leaves printable characters, combining marks and emoji sequences alone', () => {
    assert.equal(quoted('Last Name'), '"Last Name"');
    assert.equal(quoted(''), '""');
    for (const s of ['é', 'e\u0301', '中文', '😀', '👩‍👩‍👧', '\u00a0', '\u200b', 'Ω']) assert.equal(quoted(s), `"${s}"`);
  });

  it('escapes quotes and backslashes, so the quoted text reads back unambiguously', () => {
    assert.equal(quoted('say "hi"'), '"say \\"hi\\""');
    assert.equal(quoted('a\\x1b'), '"a\\\\x1b"');
  });

  it('escapes line breaks and tabs by name, other C0 controls and DEL as \\x, C1 controls as \\u', () => {
    assert.equal(quoted('a\r\nb\tc'), '"a\\r\\nb\\tc"');
    assert.equal(quoted('\x1b[31mred\x1b[0m'), '"\\x1b[31mred\\x1b[0m"');
    assert.equal(quoted('\0\x07\x08\x0b\x0c\x7f'), '"\\x00\\x07\\x08\\x0b\\x0c\\x7f"');
    assert.equal(quoted('\u0085\u009b\u0080'), '"\\u0085\\u009b\\u0080"');
  });

  it('escapes line and paragraph separators, bidirectional controls, the BOM and lone surrogates', () => {
    assert.equal(quoted('a\u2028b\u2029'), '"a\\u2028b\\u2029"');
    assert.equal(quoted('\u202eevil\u202c\u2066x\u2069\u200e\u200f\u061c'), '"\\u202eevil\\u202c\\u2066x\\u2069\\u200e\\u200f\\u061c"');
    assert.equal(quoted('\ufeffid'), '"\\ufeffid"');
    assert.equal(quoted('a\ud83d'), '"a\\ud83d"');
    assert.equal(quoted('\ude00b'), '"\\ude00b"');
  });

  it('cuts long text to the limit in characters, never inside a surrogate pair, before escaping', () => {
    assert.equal(quoted('x'.repeat(200)), `"${'x'.repeat(59)}…"`);
    assert.equal(quoted('x'.repeat(60)), `"${'x'.repeat(60)}"`);
    assert.equal(quoted('😀'.repeat(61)), `"${'😀'.repeat(59)}…"`);
    assert.equal(quoted('\x1b'.repeat(100), 4), '"\\x1b\\x1b\\x1b…"');
  });

  it('never lets a raw control through, whatever the input', () => {
    let all = '';
    for (let c = 0; c < 0x3000; c++) all += String.fromCharCode(c);
    all += '\ud800\udc00\ud800\udfff\ufeff\ufffe';
    assert.equal(rawControl(quoted(all, Infinity)), null);
    assert.equal(rawControl(escapeControls(all)), null);
    assert.equal(rawControl(`${all}\ud800x\udfff`), '\x00');
    assert.equal(rawControl('a\ud83d\ude00\ud800'), '\ud800');
  });
});

describe('escapeControls', () => {
  it('escapes controls without quoting or touching quotes and backslashes', () => {
    assert.equal(escapeControls('got "\x1b" at line 1\\'), 'got "\\x1b" at line 1\\');
    assert.equal(escapeControls('plain'), 'plain');
  });
});

describe('SluiceError', () => {
  it('never carries a raw control character in its message, even from a library message', () => {
    const e = new SluiceError('E_MALFORMED', 'malformed header on line 1: Invalid Closing Quote: got "\x1b" at line 1\r\n');
    assert.equal(e.message, 'malformed header on line 1: Invalid Closing Quote: got "\\x1b" at line 1\\r\\n');
    assert.equal(SluiceError.fromJSON(e.toJSON()).message, e.message);
  });
});

describe('asSluiceError', () => {
  const sqlite = (code: string, message: string): Error => Object.assign(new Error(message), { code });

  it('makes a database error that escaped its caller E_DB, a sentence with the SQLite code, exit 2', () => {
    const cause = sqlite('SQLITE_READONLY', 'attempt to write a readonly database');
    const e = asSluiceError(cause);
    assert.equal(e.code, 'E_DB');
    assert.equal(e.message, 'database error: the database is read-only to this process (SQLITE_READONLY)');
    assert.equal(e.cause, cause);
    assert.equal(exitCodeFor(e), 2);
    assert.equal(asSluiceError(sqlite('SQLITE_READONLY_DBMOVED', 'x')).message, 'database error: the database is read-only to this process (SQLITE_READONLY_DBMOVED)');
    assert.equal(asSluiceError(sqlite('SQLITE_FULL', 'database or disk is full')).message, 'database error: the disk is full (SQLITE_FULL)');
    assert.equal(asSluiceError(sqlite('SQLITE_IOERR_WRITE', 'disk I/O error')).message, 'database error: disk I/O error (SQLITE_IOERR_WRITE)');
  });

  it('keeps a SluiceError and makes anything else E_INTERNAL', () => {
    const s = new SluiceError('E_ROW', 'x');
    assert.equal(asSluiceError(s), s);
    assert.equal(asSluiceError(new Error('boom')).code, 'E_INTERNAL');
    assert.equal(asSluiceError(Object.assign(new Error('no'), { code: 'ENOENT' })).code, 'E_INTERNAL');
    assert.equal(asSluiceError('text').message, 'text');
  });
});
