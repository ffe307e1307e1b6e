import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { SluiceError } from '../../../src/base/errors.js';
import { parseRecords, scanRecords } from '../../../src/input/parse.js';
import { prngInt } from '../../helpers/random.js';

const COMMA = { delimiter: 44, quote: 34 };
const recs = (s: string, first = 1, opts = COMMA) => parseRecords(Buffer.from(s), first, opts);

/** csv-parse with the options that define the semantics parseRecords implements. */
function reference(s: string, delimiter = ','): string[][] {
  return parse(Buffer.from(s), { delimiter, quote: '"', record_delimiter: ['\r\n', '\n', '\r'], relax_column_count: true, trim: true, skip_empty_lines: true }) as string[][];
}

describe('parseRecords', () => {
  it('splits records on LF, CRLF and CR and reports their start lines', () => {
    const r = recs('a,b\r\nc,d\ne,f\rg,h', 10);
    assert.deepEqual(r.records, [['a', 'b'], ['c', 'd'], ['e', 'f'], ['g', 'h']]);
    assert.deepEqual([...r.lines], [10, 11, 12, 13]);
  });

  it('keeps quoted line breaks and counts them as physical lines', () => {
    const r = recs('"x\ny",1\n"p\r\nq\rr",2\nlast,3\n');
    assert.deepEqual(r.records, [['x\ny', '1'], ['p\r\nq\rr', '2'], ['last', '3']]);
    assert.deepEqual([...r.lines], [1, 3, 6]);
  });

  it('skips blank and whitespace-only lines but counts them', () => {
    const r = recs('a,b\n\n   \n\t\nc,d\n');
    assert.deepEqual(r.records, [['a', 'b'], ['c', 'd']]);
    assert.deepEqual([...r.lines], [1, 5]);
  });

  it('trims unquoted cells, keeps spaces inside quotes, undoubles quotes', () => {
    assert.deepEqual(recs('  a  ,  " b "  ,"say ""hi""",\n').records, [['a', ' b ', 'say "hi"', '']]);
  });

  it('handles empty fields and a trailing separator at end of input', () => {
    assert.deepEqual(recs(',,\na,').records, [['', '', ''], ['a', '']]);
  });

  it('uses the given separator and qualifier, or none', () => {
    assert.deepEqual(recs("a;'b;c'\n", 1, { delimiter: 59, quote: 39 }).records, [['a', 'b;c']]);
    assert.deepEqual(recs('a\t"b\n', 1, { delimiter: 9, quote: -1 }).records, [['a', '"b']]);
  });

  it('decodes multi-byte UTF-8', () => {
    assert.deepEqual(recs('Zoë,Ünal,日本\n').records, [['Zoë', 'Ünal', '日本']]);
  });

  it('decodes multi-byte UTF-8 in quoted, trimmed and doubled-quote fields next to ASCII ones', () => {
    const text = '  "Łódź ""x"" , y" ,  ś  ,plain,"a\nż"\nascii,"q",😀,é\n';
    assert.deepEqual(recs(text).records, [
      ['Łódź "x" , y', 'ś', 'plain', 'a\nż'],
      ['ascii', 'q', '😀', 'é'],
    ]);
    assert.deepEqual(Array.from(recs(text, 4).lines), [4, 6]);
  });

  it('rejects a quote inside an unquoted field, naming the line', () => {
    assert.throws(
      () => recs('a,b\nc,d"e\n', 7),
      (e: unknown) => e instanceof SluiceError && e.code === 'E_MALFORMED' && e.line === 8 && /quote inside the unquoted field 2/.test(e.message),
    );
  });

  it('rejects text after a closing quote', () => {
    assert.throws(() => recs('"ab"c,d\n'), (e: unknown) => e instanceof SluiceError && e.line === 1 && /after the closing quote/.test(e.message));
  });

  it('names the character after a closing quote by its code point, escaped when it is not printable', () => {
    const message = (s: string): string => {
      try {
        recs(s);
      } catch (e) {
        assert.ok(e instanceof SluiceError);
        return e.message;
      }
      assert.fail(`accepted ${JSON.stringify(s)}`);
    };
    const after = 'after the closing quote of field 1 (a quote inside a quoted field must be doubled)';
    assert.equal(message('"ab"c,d\n'), `malformed CSV on line 1: unexpected character "c" ${after}`);
    assert.equal(message('"ab"é\n'), `malformed CSV on line 1: unexpected character "é" (U+00E9) ${after}`);
    assert.equal(message('"ab"😀\n'), `malformed CSV on line 1: unexpected character "😀" (U+1F600) ${after}`);
    assert.equal(message('"ab"\x1b[2J\n'), `malformed CSV on line 1: unexpected character "\\x1b" (U+001B) ${after}`);
    assert.equal(message('"ab"\u0085\n'), `malformed CSV on line 1: unexpected character "\\u0085" (U+0085) ${after}`);
    assert.equal(message('"ab"\u202e\n'), `malformed CSV on line 1: unexpected character "\\u202e" (U+202E) ${after}`);
  });

  it('rejects an unclosed quote with the line it opened on', () => {
    assert.throws(() => recs('a\n"b\n\nc', 3), (e: unknown) => e instanceof SluiceError && e.line === 4 && /not closed/.test(e.message));
  });

  it('agrees with csv-parse on random well-formed documents', () => {
    const rand = prngInt(42);
    const pieces = ['a', 'b c', 'é', '日', ' ', '1.5', '', 'x'];
    for (let doc = 0; doc < 300; doc++) {
      const rows: string[] = [];
      const nrows = 1 + rand(6);
      for (let r = 0; r < nrows; r++) {
        const cells: string[] = [];
        const ncols = 1 + rand(4);
        for (let c = 0; c < ncols; c++) {
          let v = '';
          for (let k = rand(4); k > 0; k--) v += pieces[rand(pieces.length)];
          if (rand(3) === 0) {
            const inner = v + ['', '""', '\n', '\r\n', ',', '"",""'][rand(6)] + v;
            cells.push(`"${inner}"`);
          } else cells.push(v.trim() === '' ? '' : v);
        }
        const line = cells.join(',');
        rows.push(line.trim() === '' ? 'z' : line);
      }
      const eol = ['\n', '\r\n', '\r'][rand(3)] as string;
      const text = rows.join(eol) + (rand(2) ? eol : '');
      assert.deepEqual(recs(text).records, reference(text), `document ${doc}: ${JSON.stringify(text)}`);
    }
  });
});

describe('scanRecords', () => {
  it('finds exactly the records parseRecords parses, with their start lines and the spans it reports, on random well-formed documents', () => {
    const rand = prngInt(4242);
    const pieces = ['a', 'b c', 'é', '日', ' ', '\t', '1.5', '', 'x'];
    const eols = ['\n', '\r\n', '\r'];
    for (let doc = 0; doc < 600; doc++) {
      const sep = [',', ';', '\t', ' '][rand(4)] as string;
      const opts = { delimiter: sep.charCodeAt(0), quote: 34 };
      const parts: string[] = [];
      const nrows = 1 + rand(6);
      for (let r = 0; r < nrows; r++) {
        if (rand(5) === 0) parts.push(['', ' ', '\t '][rand(3)] as string);
        const cells: string[] = [];
        for (let c = 1 + rand(4); c > 0; c--) {
          let v = '';
          for (let k = rand(4); k > 0; k--) v += pieces[rand(pieces.length)];
          v = v.replaceAll(sep, '');
          if (rand(3) === 0) cells.push(`${rand(2) ? ' ' : ''}"${v}${['', '""', '\n', '\r\n', '\r', sep][rand(6)]}${v}"`);
          else cells.push(v.trim() === '' ? '' : v.trim());
        }
        const line = cells.join(sep);
        parts.push(line.trim() === '' ? 'z' : line);
      }
      const eol = eols[rand(3)] as string;
      const text = parts.join(eol) + (rand(2) ? eol : '');
      const bytes = Buffer.from(text);
      const first = 1 + rand(50);
      const parsed = parseRecords(bytes, first, opts);
      const spans = scanRecords(bytes, first, opts);
      const what = `document ${doc}: ${JSON.stringify(text)}`;
      assert.deepEqual([...spans.lines], [...parsed.lines], what);
      // The spans the parse reports are the scan's.
      const found = { start: [] as number[], end: [] as number[] };
      assert.deepEqual(parseRecords(bytes, first, opts, found), parsed, what);
      assert.deepEqual([found.start, found.end], [[...spans.start], [...spans.end]], what);
      for (let i = 0; i < spans.start.length; i++) {
        const alone = parseRecords(bytes.subarray(spans.start[i], spans.end[i]), spans.lines[i] as number, opts);
        assert.deepEqual(alone.records, [parsed.records[i]], `${what}, record ${i}`);
      }
    }
  });

  it('never fails on malformed input, and a span that is not one record does not parse as one', () => {
    const rand = prngInt(77);
    const alphabet = ['a', ',', '"', '\n', '\r', ' ', 'é'];
    for (let doc = 0; doc < 1500; doc++) {
      let text = '';
      for (let k = rand(30); k > 0; k--) text += alphabet[rand(alphabet.length)];
      const bytes = Buffer.from(text);
      const spans = scanRecords(bytes, 1, COMMA);
      assert.equal(spans.start.length, spans.end.length);
      for (let i = 0; i < spans.start.length; i++) assert.ok((spans.start[i] as number) <= (spans.end[i] as number) && (spans.end[i] as number) <= bytes.length, `document ${doc}`);
      let whole: ReturnType<typeof parseRecords> | null = null;
      try {
        whole = parseRecords(bytes, 1, COMMA);
      } catch {
        continue;
      }
      // Where the whole document parses, every span that parses alone to one record is that record.
      const same = spans.start.length === whole.records.length && spans.lines.every((l, i) => l === whole?.lines[i]);
      if (!same) continue;
      for (let i = 0; i < spans.start.length; i++) {
        let alone: string[][] | null = null;
        try {
          alone = parseRecords(bytes.subarray(spans.start[i], spans.end[i]), spans.lines[i] as number, COMMA).records;
        } catch {
          continue;
        }
        if (alone.length === 1) assert.deepEqual(alone[0], whole.records[i], `document ${doc}: ${JSON.stringify(text)}`);
      }
    }
  });
});

