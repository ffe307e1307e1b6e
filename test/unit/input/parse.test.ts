import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { SluiceError } from '../../../src/base/errors.js';
import { Framer } from '../../../src/input/frame.js';
import { type CsvOptions, parseHeader, parseRecords, scanRecords } from '../../../src/input/parse.js';
import { prngInt } from '../../helpers/random.js';

const COMMA: CsvOptions = { delimiter: 44, quote: 34 };
const RELAX: CsvOptions = { ...COMMA, relaxQuotes: true };
const recs = (s: string, first = 1, opts = COMMA) => parseRecords(Buffer.from(s), first, opts);

/**
 * csv-parse with the options that define the semantics parseRecords implements: a qualifier
 * opens a quoted field only first in it (`relax_quotes`), unquoted cells are trimmed.
 */
function reference(s: string, delimiter = ','): string[][] {
  return parse(Buffer.from(s), { delimiter, quote: '"', record_delimiter: ['\r\n', '\n', '\r'], relax_column_count: true, trim: true, relax_quotes: true, skip_empty_lines: true }) as string[][];
}

/**
 * csv-parse's reading of a quoted field followed by other text (`"ab"c`), which --relax-quotes
 * follows. csv-parse refuses such a field whenever it trims the ends of cells, so this oracle
 * trims only their starts: it holds for documents where no cell ends with blanks.
 */
function relaxedReference(s: string, delimiter = ','): string[][] {
  return parse(Buffer.from(s), { delimiter, quote: '"', record_delimiter: ['\r\n', '\n', '\r'], relax_column_count: true, ltrim: true, relax_quotes: true, skip_empty_lines: true }) as string[][];
}

function malformedAt(line: number, message: RegExp): (e: unknown) => boolean {
  return (e) => e instanceof SluiceError && e.code === 'E_MALFORMED' && e.line === line && message.test(e.message);
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

  it('reads a qualifier inside an unquoted field as a character', () => {
    assert.deepEqual(recs('name,code\nPipe 12" wide,P1\n').records, [['name', 'code'], ['Pipe 12" wide', 'P1']]);
    assert.deepEqual(recs(`5'10",Smith\n`).records, [[`5'10"`, 'Smith']]);
    assert.deepEqual(recs('12" pipe').records, [['12" pipe']]);
    assert.deepEqual(recs('a""b,c\n').records, [['a""b', 'c']]);
    assert.deepEqual(recs('a "b" c,"d"\n').records, [['a "b" c', 'd']]);
    assert.deepEqual(recs('Zoë 6",日本"\n').records, [['Zoë 6"', '日本"']]);
    // One of them at the end of a line opens nothing: the line break ends the record.
    const r = recs('a,b"\nc",d\n', 4);
    assert.deepEqual(r.records, [['a', 'b"'], ['c"', 'd']]);
    assert.deepEqual([...r.lines], [4, 5]);
  });

  it('opens a quoted field at a qualifier after the blanks an unquoted cell is trimmed of, and only there', () => {
    assert.deepEqual(recs(' "abc" , \t"d,e"\t\n').records, [['abc', 'd,e']]);
    assert.deepEqual(recs('a\t"b c"\n', 1, { delimiter: 9, quote: 34 }).records, [['a', 'b c']]);
    // With space as the separator the space is not a blank: the qualifier after it is first in its field.
    assert.deepEqual(recs('a "b c"\n', 1, { delimiter: 32, quote: 34 }).records, [['a', 'b c']]);
    assert.deepEqual(recs(`x,5'10",'y,z'\n`, 1, { delimiter: 44, quote: 39 }).records, [['x', `5'10"`, 'y,z']]);
  });

  it('rejects text after a closing quote, naming the line and the field, and --relax-quotes', () => {
    assert.throws(() => recs('"ab"c,d\n'), malformedAt(1, /after the closing quote of field 1 .*--relax-quotes/));
    assert.throws(() => recs('x,"ab" c\n', 3), malformedAt(3, /unexpected character "c" after the closing quote of field 2/));
    assert.throws(() => recs('x\n"a\r\nb""c"d,e\n'), malformedAt(3, /after the closing quote of field 1/));
    assert.throws(() => recs('"a" "b"\n'), malformedAt(1, /unexpected character "\\"" after the closing quote/));
    // Blanks after the closing quote are fine.
    assert.deepEqual(recs('"ab" \t,"c"  \n').records, [['ab', 'c']]);
  });

  it('with relaxQuotes, reads a quoted field followed by text as csv-parse relax_quotes does: all of it, as written', () => {
    const relaxed = (s: string) => recs(s, 1, RELAX).records;
    assert.deepEqual(relaxed('"ab"c,d\n'), [['"ab"c', 'd']]);
    assert.deepEqual(relaxed('"ab" c,d\n'), [['"ab" c', 'd']]);
    // The quoted part as csv-parse reads it: doubled qualifiers undoubled.
    assert.deepEqual(relaxed('"ab""c"x,d\n'), [['"ab"c"x', 'd']]);
    // After the closing qualifier a qualifier is a character, up to the separator.
    assert.deepEqual(relaxed('"ab"c"d,e\n'), [['"ab"c"d', 'e']]);
    assert.deepEqual(relaxed('"a" "b",c\n'), [['"a" "b"', 'c']]);
    // Leading blanks are trimmed as before the qualifier; trailing ones as from any unquoted cell.
    assert.deepEqual(relaxed('  "ab"c \t,d\n'), [['"ab"c', 'd']]);
    assert.deepEqual(relaxed('"Łódź"é,"😀"x\n'), [['"Łódź"é', '"😀"x']]);
    const r = recs('h\n"a\nb"c,d\ne,f', 1, RELAX);
    assert.deepEqual(r.records, [['h'], ['"a\nb"c', 'd'], ['e', 'f']]);
    assert.deepEqual([...r.lines], [1, 2, 4]);
    // Well-formed fields read as without it.
    assert.deepEqual(relaxed('"ab"  ,"c""d",e\n'), [['ab', 'c"d', 'e']]);
    for (const s of ['"ab"c,d\n', '"ab""c"x,d\n', '"ab"c"d,e\n', '"a" "b",c\n', '"Łódź"é,"😀"x\n']) assert.deepEqual(relaxed(s), relaxedReference(s), s);
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
    const after = 'after the closing quote of field 1 (a quote inside a quoted field must be doubled; --relax-quotes reads such a field as written)';
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


describe('parseHeader', () => {
  it('reads the header as every record is read: bare qualifiers are characters, blanks are trimmed', () => {
    assert.deepEqual(parseHeader(Buffer.from('name,code\n'), COMMA), ['name', 'code']);
    assert.deepEqual(parseHeader(Buffer.from('Width 12",  "a,b" ,Org->Name\r\n'), COMMA), ['Width 12"', 'a,b', 'Org->Name']);
    assert.deepEqual(parseHeader(Buffer.from('"multi\nline",x'), COMMA), ['multi\nline', 'x']);
    assert.deepEqual(parseHeader(Buffer.from("a;'b;c'"), { delimiter: 59, quote: 39 }), ['a', 'b;c']);
  });

  it('rejects text after a closing quote on line 1 unless relaxQuotes', () => {
    assert.throws(
      () => parseHeader(Buffer.from('"name"x,code\n'), COMMA),
      (e: unknown) =>
        e instanceof SluiceError &&
        e.code === 'E_MALFORMED' &&
        e.line === 1 &&
        e.message === 'malformed header on line 1: unexpected character "x" after the closing quote of field 1 (a quote inside a quoted field must be doubled; --relax-quotes reads such a field as written)',
    );
    assert.deepEqual(parseHeader(Buffer.from('"name"x,code\n'), RELAX), ['"name"x', 'code']);
  });

  it('rejects an empty first line', () => {
    for (const text of ['\n', '  \r\n', '""\n']) {
      assert.throws(() => parseHeader(Buffer.from(text), COMMA), (e: unknown) => e instanceof SluiceError && e.line === 1 && /line 1 is empty/.test(e.message), JSON.stringify(text));
    }
  });
});

/** Line breaks before `offset`: LF, CRLF and a lone CR each count once. */
function lineAt(text: string, offset: number): number {
  return 1 + (text.slice(0, offset).match(/\r\n|\r|\n/g)?.length ?? 0);
}

interface RandomDocument {
  text: string;
  /** offset of the first text after a closing quote, or -1 */
  firstStray: number;
}

/**
 * A random CSV document whose unquoted cells hold bare qualifiers, and whose quoted cells
 * hold doubled qualifiers, separators and line breaks. With `stray`, some quoted cells have
 * text after their closing qualifier. With `blankEnds` false, no cell ends with a blank.
 */
function randomDocument(rand: (n: number) => number, sep: string, o: { stray: boolean; blankEnds: boolean }): RandomDocument {
  const blanks = ['', ' ', '\t', ' \t'].map((b) => b.replaceAll(sep, ''));
  const bare = ['a', 'b c', 'é', '日', '1.5', 'x', '"', "'", '""', '12"', ' ', '\t'];
  const inside = ['a', 'b c', 'é', '""', sep, '\n', '\r\n', '\r', ' ', "'", '😀'];
  // Never a qualifier first: that would be a doubled one.
  const strays = ['c', ' c', 'x"y', ' "', 'é', 'z"w'].map((t) => t.replaceAll(sep, '')).filter((t) => t !== '' && !t.startsWith('"'));
  const pick = (from: readonly string[]): string => from[rand(from.length)] as string;
  let text = '';
  let firstStray = -1;
  const eol = pick(['\n', '\r\n', '\r']);
  const nrows = 1 + rand(6);
  for (let r = 0; r < nrows; r++) {
    let line = '';
    const ncols = 1 + rand(4);
    for (let c = 0; c < ncols; c++) {
      if (c > 0) line += sep;
      const left = pick(blanks);
      const right = o.blankEnds ? pick(blanks) : '';
      if (rand(3) === 0) {
        let inner = '';
        for (let k = rand(4); k > 0; k--) inner += pick(inside);
        line += `${left}"${inner}"`;
        if (o.stray && rand(3) === 0) {
          if (firstStray < 0) firstStray = text.length + line.length;
          line += pick(strays);
        }
        line += right;
      } else {
        let v = '';
        for (let k = rand(4); k > 0; k--) v += pick(bare);
        v = v.replaceAll(sep, '');
        if (!o.blankEnds) v = v.replace(/^[ \t]+|[ \t]+$/g, '');
        // A qualifier first in the cell would open a quoted field.
        if (v.replace(/^[ \t]+/, '').startsWith('"')) v = `u${v}`;
        line += left + v + (v === '' ? '' : right);
      }
    }
    // A blank line is not a record.
    if (line.trim() === '') line = 'z';
    text += line;
    if (r < nrows - 1 || rand(2)) text += eol;
  }
  return { text, firstStray: firstStray < 0 || firstStray > text.length ? -1 : firstStray };
}

/** The records of the frames the framer cuts from `bytes` pushed in the given pieces, each parsed alone. */
function framedRecords(bytes: Buffer, cuts: number[], targetBytes: number, opts: CsvOptions): { records: string[][]; lines: number[]; joined: Buffer } {
  const framer = new Framer({ quote: opts.quote, delimiter: opts.delimiter, targetBytes, maxRecordBytes: 1 << 20 });
  const frames = [];
  let from = 0;
  for (const at of [...cuts, bytes.length]) {
    frames.push(...framer.push(bytes.subarray(from, at)));
    from = at;
  }
  frames.push(...framer.end());
  const records: string[][] = [];
  const lines: number[] = [];
  for (const f of frames) {
    const p = parseRecords(f.bytes, f.firstLine, opts);
    records.push(...p.records);
    lines.push(...p.lines);
  }
  return { records, lines, joined: Buffer.concat(frames.map((f) => f.bytes)) };
}

function randomCuts(rand: (n: number) => number, length: number): number[] {
  const cuts = new Set<number>();
  for (let k = rand(5); k > 0; k--) cuts.add(rand(length + 1));
  return [...cuts].sort((a, b) => a - b);
}

/** The framer and the scanner find the records the parser parses, byte for byte, whatever the chunking. */
function assertAgreement(rand: (n: number) => number, text: string, opts: CsvOptions, what: string): ReturnType<typeof parseRecords> {
  const bytes = Buffer.from(text);
  const spansOfParse = { start: [] as number[], end: [] as number[] };
  const parsed = parseRecords(bytes, 1, opts, spansOfParse);
  const cuts = randomCuts(rand, bytes.length);
  const framed = framedRecords(bytes, cuts, [1, 8, 64, 1 << 16][rand(4)] as number, opts);
  assert.deepEqual(framed.joined, bytes, `${what}: frames joined`);
  assert.deepEqual(framed.records, parsed.records, `${what}: framed records, cuts ${JSON.stringify(cuts)}`);
  assert.deepEqual(framed.lines, [...parsed.lines], `${what}: framed lines, cuts ${JSON.stringify(cuts)}`);
  const spans = scanRecords(bytes, 1, opts);
  assert.deepEqual([[...spans.start], [...spans.end], [...spans.lines]], [spansOfParse.start, spansOfParse.end, [...parsed.lines]], `${what}: scanned spans`);
  for (let i = 0; i < spans.start.length; i++) {
    const alone = parseRecords(bytes.subarray(spans.start[i], spans.end[i]), spans.lines[i] as number, opts);
    assert.deepEqual(alone.records, [parsed.records[i]], `${what}: span ${i} alone`);
  }
  return parsed;
}

describe('parser, framer and scanner agree, with csv-parse relax_quotes as the oracle', () => {
  it('on random documents with bare qualifiers in unquoted cells', () => {
    const rand = prngInt(42);
    for (let doc = 0; doc < 400; doc++) {
      const sep = [',', ';', '\t'][rand(3)] as string;
      const { text } = randomDocument(rand, sep, { stray: false, blankEnds: true });
      const opts: CsvOptions = { delimiter: sep.charCodeAt(0), quote: 34, relaxQuotes: rand(2) === 1 };
      const what = `document ${doc}: ${JSON.stringify(text)}`;
      const parsed = assertAgreement(rand, text, opts, what);
      assert.deepEqual(parsed.records, reference(text, sep), what);
    }
  });

  it('with space as the separator', () => {
    const rand = prngInt(7);
    for (let doc = 0; doc < 200; doc++) {
      const { text } = randomDocument(rand, ' ', { stray: rand(2) === 1, blankEnds: true });
      assertAgreement(rand, text, { delimiter: 32, quote: 34, relaxQuotes: true }, `document ${doc}: ${JSON.stringify(text)}`);
    }
  });

  it('on random documents with text after closing quotes: an error on its line by default, csv-parse relax_quotes with relaxQuotes', () => {
    const rand = prngInt(4343);
    let strays = 0;
    for (let doc = 0; doc < 400; doc++) {
      const sep = [',', ';', '\t'][rand(3)] as string;
      const { text, firstStray } = randomDocument(rand, sep, { stray: true, blankEnds: false });
      const what = `document ${doc}: ${JSON.stringify(text)}`;
      const strict: CsvOptions = { delimiter: sep.charCodeAt(0), quote: 34 };
      const relaxed = assertAgreement(rand, text, { ...strict, relaxQuotes: true }, what);
      assert.deepEqual(relaxed.records, relaxedReference(text, sep), what);
      if (firstStray < 0) {
        assert.deepEqual(recs(text, 1, strict).records, relaxed.records, what);
        continue;
      }
      strays++;
      const line = lineAt(text, firstStray);
      const stray = malformedAt(line, /after the closing quote of field \d+ \(/);
      assert.throws(() => recs(text, 1, strict), stray, what);
      // csv-parse refuses the document too.
      assert.throws(() => reference(text, sep), what);
      // Framed in pieces, the first frame in error fails the same way.
      const bytes = Buffer.from(text);
      assert.throws(() => framedRecords(bytes, randomCuts(rand, bytes.length), 1 + rand(32), strict), stray, what);
    }
    assert.ok(strays > 100, `only ${strays} documents with text after a closing quote`);
  });
});
