import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Framer, type Frame, type FramerOptions } from '../../../src/input/frame.js';
import { SluiceError } from '../../../src/base/errors.js';
import { detectSeparator } from '../../../src/input/separator.js';

const Q = 0x22;
const COMMA = 0x2c;

function opts(over: Partial<FramerOptions> = {}): FramerOptions {
  return { quote: Q, delimiter: COMMA, targetBytes: 1, maxRecordBytes: 1 << 20, ...over };
}

function frameChunks(chunks: Buffer[], o: FramerOptions): Frame[] {
  const f = new Framer(o);
  const frames: Frame[] = [];
  for (const c of chunks) frames.push(...f.push(c));
  frames.push(...f.end());
  return frames;
}

function texts(frames: Frame[]): string[] {
  return frames.map((f) => f.bytes.toString('utf8'));
}

function lines(frames: Frame[]): Array<[number, number]> {
  return frames.map((f) => [f.firstLine, f.endLine]);
}

/**
 * Byte-by-byte model, written forward (the framer looks back): the offsets where records end,
 * and the line each offset is on. A qualifier opens a quoted field only while the field so far
 * is blanks; inside one, a doubled qualifier stands for itself.
 */
function reference(input: Buffer, quote: number | null, delimiter: number): { boundaries: Set<number>; lineAt: number[] } {
  const boundaries = new Set<number>();
  const lineAt: number[] = [1];
  let inQuote = false;
  let fieldStart = true;
  let line = 1;
  for (let i = 0; i < input.length; i++) {
    const b = input[i];
    let brk = false;
    if (b === 0x0d) {
      line++;
      brk = input[i + 1] !== 0x0a;
    } else if (b === 0x0a) {
      if (input[i - 1] !== 0x0d) line++;
      brk = true;
    }
    if (inQuote) {
      if (b === quote) {
        if (input[i + 1] === quote) lineAt[++i] = line;
        else inQuote = false;
      }
    } else if (b === quote) {
      inQuote = fieldStart;
      fieldStart = false;
    } else if (b === delimiter || b === 0x0d || b === 0x0a) fieldStart = true;
    else if (b !== 0x20 && b !== 0x09) fieldStart = false;
    lineAt[i + 1] = line;
    if (brk && !inQuote) boundaries.add(i + 1);
  }
  return { boundaries, lineAt };
}

function check(input: Buffer, frames: Frame[], o: FramerOptions): void {
  assert.deepEqual(Buffer.concat(frames.map((f) => f.bytes)), input);
  const { boundaries, lineAt } = reference(input, o.quote, o.delimiter ?? COMMA);
  const firstBoundary = Math.min(...boundaries, input.length);
  let start = 0;
  frames.forEach((f, k) => {
    const end = start + f.bytes.length;
    assert.ok(f.bytes.length > 0, `frame ${k} is empty`);
    assert.ok(end === input.length || boundaries.has(end), `frame ${k} ends at ${end}, not a record boundary`);
    assert.equal(f.firstLine, lineAt[start], `frame ${k} firstLine`);
    assert.equal(f.endLine, lineAt[end], `frame ${k} endLine`);
    if (k === 0) assert.equal(end, firstBoundary, 'the first frame is the header record alone');
    start = end;
  });
}

const DOC = Buffer.from(
  'id,name,note\r\n' +
    '1,"a\r\nb",x\n' +
    '2,"say ""hi""",y\r' +
    '3,"multi\nline\rcr",z\r\n' +
    '\n' +
    '4,plain,"q"\n' +
    '5,"",""""\r\n' +
    '6,Pipe 12" wide,5\'10"\n' +
    '7, \t"pad\nded" ,"ab"c"\n' +
    '8,last,no-newline',
);

test('CRLF, LF and CR line breaks each end a record', () => {
  const frames = frameChunks([Buffer.from('a,b\r\n1,2\n3,4\r5,6\r\n')], opts());
  assert.deepEqual(texts(frames), ['a,b\r\n', '1,2\n', '3,4\r', '5,6\r\n']);
  assert.deepEqual(lines(frames), [
    [1, 2],
    [2, 3],
    [3, 4],
    [4, 5],
  ]);
});

test('a line break inside quotes does not end the record but counts as a line', () => {
  const frames = frameChunks([Buffer.from('h\n1,"a\nb",c\n2,"x\r\ny\rz"\n3\n')], opts());
  assert.deepEqual(texts(frames), ['h\n', '1,"a\nb",c\n', '2,"x\r\ny\rz"\n', '3\n']);
  assert.deepEqual(lines(frames), [
    [1, 2],
    [2, 4],
    [4, 7],
    [7, 8],
  ]);
});

test('doubled quotes keep the field open across a line break', () => {
  const frames = frameChunks([Buffer.from('h\n"a""\nb"\nc\n')], opts());
  assert.deepEqual(texts(frames), ['h\n', '"a""\nb"\n', 'c\n']);
});

test('a doubled quote split across pushes', () => {
  const frames = frameChunks([Buffer.from('h\n"a"'), Buffer.from('"\nb"\nc\n')], opts());
  assert.deepEqual(texts(frames), ['h\n', '"a""\nb"\n', 'c\n']);
});

test('CR at the end of one push and LF at the start of the next are one line break', () => {
  const frames = frameChunks([Buffer.from('h\r'), Buffer.from('\n1\r'), Buffer.from('\n2\n')], opts());
  assert.deepEqual(texts(frames), ['h\r\n', '1\r\n', '2\n']);
  assert.deepEqual(lines(frames), [
    [1, 2],
    [2, 3],
    [3, 4],
  ]);
});

test('CR at the end of a push followed by another record is a lone CR', () => {
  const frames = frameChunks([Buffer.from('h\r'), Buffer.from('1\r'), Buffer.from('2')], opts());
  assert.deepEqual(texts(frames), ['h\r', '1\r', '2']);
  assert.deepEqual(lines(frames), [
    [1, 2],
    [2, 3],
    [3, 3],
  ]);
});

test('CR inside quotes at the end of a push followed by LF counts one line', () => {
  const frames = frameChunks([Buffer.from('h\n"a\r'), Buffer.from('\nb"\nc\n')], opts());
  assert.deepEqual(texts(frames), ['h\n', '"a\r\nb"\n', 'c\n']);
  assert.deepEqual(lines(frames), [
    [1, 2],
    [2, 4],
    [4, 5],
  ]);
});

test('every split point: byte by byte and all two-way splits', () => {
  for (const targetBytes of [1, 20, 1000]) {
    const o = opts({ targetBytes });
    const bytewise = frameChunks([...DOC].map((b) => Buffer.from([b])), o);
    check(DOC, bytewise, o);
    const whole = frameChunks([DOC], o);
    check(DOC, whole, o);
    for (let i = 1; i < DOC.length; i++) {
      const frames = frameChunks([DOC.subarray(0, i), DOC.subarray(i)], o);
      check(DOC, frames, o);
      // Where the input is split must not change where frames are cut.
      assert.deepEqual(texts(frames), texts(whole), `split at ${i}, target ${targetBytes}`);
    }
    assert.deepEqual(texts(bytewise), texts(whole), `byte by byte, target ${targetBytes}`);
  }
});

test('every record is its own frame with a target of one byte', () => {
  const frames = frameChunks([DOC], opts());
  assert.equal(frames.length, 10);
  assert.equal(frames[1]!.bytes.toString(), '1,"a\r\nb",x\n');
  assert.equal(frames[7]!.bytes.toString(), '6,Pipe 12" wide,5\'10"\n');
  assert.equal(frames[8]!.bytes.toString(), '7, \t"pad\nded" ,"ab"c"\n');
  assert.deepEqual(frames.at(-1), { bytes: Buffer.from('8,last,no-newline'), firstLine: 14, endLine: 14 });
});

test('frames are cut at the first record boundary once they reach the target size', () => {
  const header = 'h\n';
  const records = Array.from({ length: 10 }, (_, i) => `row-${String(i).padStart(4, '0')}\n`); // 10 bytes each
  const frames = frameChunks([Buffer.from(header + records.join(''))], opts({ targetBytes: 25 }));
  assert.deepEqual(texts(frames), [
    header,
    records.slice(0, 3).join(''),
    records.slice(3, 6).join(''),
    records.slice(6, 9).join(''),
    records[9],
  ]);
  assert.deepEqual(
    frames.map((f) => f.firstLine),
    [1, 2, 5, 8, 11],
  );
});

test('resize changes where the next frames are cut, not the ones already cut', () => {
  const header = 'h\n';
  const records = Array.from({ length: 10 }, (_, i) => `row-${String(i).padStart(4, '0')}\n`); // 10 bytes each
  const f = new Framer(opts({ targetBytes: 25 }));
  const frames = [...f.push(Buffer.from(header + records.slice(0, 3).join('')))];
  assert.deepEqual(texts(frames), [header, records.slice(0, 3).join('')]);
  f.resize(45);
  frames.push(...f.push(Buffer.from(records.slice(3).join(''))), ...f.end());
  // With the first target the rest would be cut 3-5, 6-8, 9.
  assert.deepEqual(texts(frames.slice(2)), [records.slice(3, 8).join(''), records.slice(8).join('')]);
  // A size below one byte is ignored.
  const g = new Framer(opts({ targetBytes: 25 }));
  g.resize(0);
  assert.deepEqual(texts([...g.push(Buffer.from(header + records.join(''))), ...g.end()]).length, 5);
});

test('the header is a frame of its own even when the target is large', () => {
  const frames = frameChunks([Buffer.from('a,b\n1,2\n3,4\n')], opts({ targetBytes: 1 << 20 }));
  assert.deepEqual(texts(frames), ['a,b\n', '1,2\n3,4\n']);
});

test('empty input gives no frames; a header alone gives one frame', () => {
  assert.deepEqual(frameChunks([], opts()), []);
  assert.deepEqual(frameChunks([Buffer.alloc(0)], opts()), []);
  assert.deepEqual(texts(frameChunks([Buffer.from('a,b\n')], opts())), ['a,b\n']);
  assert.deepEqual(texts(frameChunks([Buffer.from('a,b')], opts())), ['a,b']);
});

test('the header frame is returned by push as soon as it is complete', () => {
  const f = new Framer(opts({ targetBytes: 1 << 20 }));
  assert.deepEqual(f.push(Buffer.from('a,')), []);
  assert.deepEqual(texts(f.push(Buffer.from('b\n1,'))), ['a,b\n']);
  assert.deepEqual(texts(f.end()), ['1,']);
});

test('a final record without a trailing line break is a record', () => {
  const frames = frameChunks([Buffer.from('h\n1,2\n3,4')], opts());
  assert.deepEqual(texts(frames), ['h\n', '1,2\n', '3,4']);
  assert.deepEqual(frames.at(-1)!.firstLine, 3);
});

test('a record over maxRecordBytes fails with its starting line', () => {
  const input = Buffer.from('h\n1,2\n3,' + 'x'.repeat(40) + '\n');
  assert.throws(
    () => frameChunks([input], opts({ maxRecordBytes: 16 })),
    (e: unknown) =>
      e instanceof SluiceError &&
      e.code === 'E_MALFORMED' &&
      e.line === 3 &&
      /record starting on line 3 is larger than the 16-byte limit/.test(e.message),
  );
});

test('a record over the limit fails while it grows, before the end of input', () => {
  const f = new Framer(opts({ maxRecordBytes: 1024 }));
  f.push(Buffer.from('h\n1,ok\n2,"never closed\n'));
  let pushed = 0;
  assert.throws(
    () => {
      for (; pushed < 100; pushed++) f.push(Buffer.from('y'.repeat(100) + '\n'));
    },
    (e: unknown) => e instanceof SluiceError && e.code === 'E_MALFORMED' && e.line === 3 && /1 KiB limit/.test(e.message),
  );
  assert.ok(pushed < 11, `failed only after ${pushed} pushes`);
});

test('a record over the limit after a CR that ended a push names its own line', () => {
  const f = new Framer(opts({ maxRecordBytes: 16 }));
  f.push(Buffer.from('h\n1\r'));
  assert.throws(
    () => f.push(Buffer.from('x'.repeat(40))),
    (e: unknown) => e instanceof SluiceError && e.code === 'E_MALFORMED' && e.line === 3,
  );
});

test('a CRLF split between two pushes counts toward the record size limit', () => {
  const o = opts({ maxRecordBytes: 3 });
  const tooLarge = (e: unknown) =>
    e instanceof SluiceError && e.code === 'E_MALFORMED' && e.line === 2 && /record starting on line 2 is larger than the 3-byte limit/.test(e.message);
  assert.throws(() => frameChunks([Buffer.from('h\nab\r\ncd\n')], o), tooLarge);
  assert.throws(() => frameChunks([Buffer.from('h\nab\r'), Buffer.from('\ncd\n')], o), tooLarge);
  // A lone CR ending the push is the whole line break: three bytes, within the limit.
  assert.deepEqual(texts(frameChunks([Buffer.from('h\nab\r'), Buffer.from('cd\n')], o)), ['h\n', 'ab\r', 'cd\n']);
});

test('a NUL byte after a record over the limit reports the record, however the input is split', () => {
  const o = opts({ maxRecordBytes: 4 });
  const input = Buffer.from('h\n12345678\n\0\n');
  const tooLarge = (e: unknown) => e instanceof SluiceError && e.line === 2 && /larger than/.test(e.message);
  assert.throws(() => frameChunks([input], o), tooLarge);
  assert.throws(() => frameChunks([input.subarray(0, 8), input.subarray(8)], o), tooLarge);
  // A NUL that comes before the record passes the limit is binary data.
  const early = Buffer.from('h\n12\x00345678\n');
  const binary = (e: unknown) => e instanceof SluiceError && e.line === 2 && /NUL byte/.test(e.message);
  assert.throws(() => frameChunks([early], o), binary);
  assert.throws(() => frameChunks([early.subarray(0, 5), early.subarray(5)], o), binary);
});

test('a CRLF record of exactly the limit: the same verdict whether or not a push ends between its CR and LF', () => {
  const input = Buffer.from('h\r\nabcd\r\nefgh\r\n');
  const cr = input.indexOf('\r\nefgh');
  for (const [max, ok] of [
    [6, true],
    [5, false],
  ] as const) {
    const o = opts({ maxRecordBytes: max });
    const whole = outcome([input], o);
    assert.deepEqual(outcome([input.subarray(0, cr + 1), input.subarray(cr + 1)], o), whole, `limit ${max}: a push ends between the CR and the LF`);
    // The LF of a split CRLF belongs to its record: the next one does not count it either.
    const next = input.indexOf('\r\nabcd') + 1;
    assert.deepEqual(outcome([input.subarray(0, next), input.subarray(next)], o), whole, `limit ${max}: the header's CRLF split`);
    if (ok) assert.deepEqual(texts(frameChunks([input], o)), ['h\r\n', 'abcd\r\n', 'efgh\r\n']);
    else assert.ok('error' in whole && whole.error.line === 2 && /5-byte limit/.test(whole.error.message), JSON.stringify(whole));
  }
});

test('a record of exactly maxRecordBytes is accepted', () => {
  const frames = frameChunks([Buffer.from('h\n1234567\n')], opts({ maxRecordBytes: 8 }));
  assert.deepEqual(texts(frames), ['h\n', '1234567\n']);
});

test('a NUL byte fails with its line', () => {
  assert.throws(
    () => frameChunks([Buffer.from('a\nb\r\nc\rd,\0')], opts()),
    (e: unknown) =>
      e instanceof SluiceError &&
      e.code === 'E_MALFORMED' &&
      e.line === 4 &&
      e.message === 'binary data (NUL byte) on line 4; this does not look like a text file',
  );
  assert.throws(
    () => frameChunks([Buffer.from('a\r'), Buffer.from('\n\0')], opts()),
    (e: unknown) => e instanceof SluiceError && e.line === 2,
  );
});

test('a NUL in every character of the first line: UTF-16 without a byte-order mark, and the option that reads it', () => {
  for (const [charset, bytes] of [
    ['UTF-16LE', Buffer.from('name,code\nA,1\n', 'utf16le')],
    ['UTF-16BE', Buffer.from('name,code\nA,1\n', 'utf16le').swap16()],
  ] as const) {
    assert.throws(
      () => frameChunks([bytes], opts()),
      (e: unknown) =>
        e instanceof SluiceError &&
        e.line === 1 &&
        e.option === '--charset' &&
        e.message === `binary data (NUL byte) on line 1; this looks like ${charset} text without a byte-order mark: give --charset ${charset}`,
    );
  }
  // however it arrives
  assert.throws(
    () => frameChunks([Buffer.from('n'), Buffer.from('\0a\0')], opts()),
    (e: unknown) => e instanceof SluiceError && /give --charset UTF-16LE$/.test(e.message),
  );
  // A NUL further on is binary data.
  assert.throws(
    () => frameChunks([Buffer.from([0x6e, 0x61, 0, 0x61, 0x0a, 0xff, 0, 0x10])], opts()),
    (e: unknown) => e instanceof SluiceError && /this does not look like a text file$/.test(e.message),
  );
});

test('an unterminated quote fails at end with the line it started on', () => {
  const expect = (line: number) => (e: unknown) =>
    e instanceof SluiceError &&
    e.code === 'E_MALFORMED' &&
    e.line === line &&
    e.message === `unterminated quoted field starting on line ${line}`;
  assert.throws(() => frameChunks([Buffer.from('h\n1,ok\n2,"abc\nd\ne\n')], opts()), expect(3));
  // A doubled quote inside does not move the start.
  assert.throws(() => frameChunks([Buffer.from('h\n1,"ab""c\nd"'), Buffer.from('"\n')], opts()), expect(2));
});

test('with quoting off, quotes are ordinary bytes', () => {
  const frames = frameChunks([Buffer.from('h\n"a\nb"\n')], opts({ quote: null }));
  assert.deepEqual(texts(frames), ['h\n', '"a\n', 'b"\n']);
});

test('another qualifier byte', () => {
  const frames = frameChunks([Buffer.from("h\n'a\nb',\"\nc\n")], opts({ quote: 0x27 }));
  assert.deepEqual(texts(frames), ['h\n', "'a\nb',\"\n", 'c\n']);
});

test('a qualifier inside an unquoted field is a character: it opens nothing', () => {
  const input = 'name,code\nPipe 12" wide,P1\n5\'10",Smith\na""b,"c\nd"\n12" pipe\n';
  assert.deepEqual(texts(frameChunks([Buffer.from(input)], opts())), ['name,code\n', 'Pipe 12" wide,P1\n', '5\'10",Smith\n', 'a""b,"c\nd"\n', '12" pipe\n']);
  // An odd number of them in the file is not an unterminated quote.
  assert.deepEqual(texts(frameChunks([Buffer.from('h\nx"\ny\n')], opts())), ['h\n', 'x"\n', 'y\n']);
  assert.deepEqual(texts(frameChunks([Buffer.from("h\n5'10\",x\ny\n")], opts({ quote: 0x27 }))), ['h\n', "5'10\",x\n", 'y\n']);
});

test('a qualifier after the leading blanks of a field opens it; the separator is not a blank', () => {
  assert.deepEqual(texts(frameChunks([Buffer.from('h\n1, \t"a\nb" ,c\n2\n')], opts())), ['h\n', '1, \t"a\nb" ,c\n', '2\n']);
  // With space as the separator, the space before the qualifier ends the field before it.
  assert.deepEqual(texts(frameChunks([Buffer.from('h\na "b\nc"\nd\n')], opts({ delimiter: 0x20 }))), ['h\n', 'a "b\nc"\n', 'd\n']);
  // With any other separator, text before the blank makes the qualifier a character.
  assert.deepEqual(texts(frameChunks([Buffer.from('h\na "b\nc"\nd\n')], opts())), ['h\n', 'a "b\n', 'c"\n', 'd\n']);
});

test('text after a closing qualifier is unquoted: a qualifier there opens nothing', () => {
  assert.deepEqual(texts(frameChunks([Buffer.from('h\n"ab"c"\nd\n"x" "y\nz\n')], opts())), ['h\n', '"ab"c"\n', 'd\n', '"x" "y\n', 'z\n']);
});

test('the same frames whichever side of a push boundary a bare qualifier falls on', () => {
  const input = Buffer.from('h\nPipe 12" wide,P1\n1,  "a\nb",c\n"ab"c"\nd\n');
  const whole = texts(frameChunks([input], opts()));
  assert.deepEqual(whole, ['h\n', 'Pipe 12" wide,P1\n', '1,  "a\nb",c\n', '"ab"c"\n', 'd\n']);
  const at = (needle: string): number => input.indexOf(needle);
  const cuts = {
    'right before a bare qualifier': at('" wide'),
    'right after a bare qualifier': at('" wide') + 1,
    'between blanks and the qualifier that opens a field': at('"a\n'),
    'between a separator and the blanks before a qualifier': at('  "a'),
    'in the middle of a quoted field': at('\nb"'),
    'right after a closing qualifier': at('c"\nd'),
    'before a qualifier after a closing one': at('"\nd'),
  };
  for (const [where, cut] of Object.entries(cuts)) {
    assert.ok(cut > 0, where);
    assert.deepEqual(texts(frameChunks([input.subarray(0, cut), input.subarray(cut)], opts())), whole, where);
  }
});

test('without a separator given, the framer detects it from the first line before it looks for the header end', () => {
  const input = Buffer.from('a;b;"c,\nd";e\n1;2;3,"x;\ny";4\n');
  for (let cut = 0; cut <= input.length; cut++) {
    const f = new Framer(opts({ delimiter: null }));
    const frames = [...f.push(input.subarray(0, cut)), ...f.push(input.subarray(cut)), ...f.end()];
    assert.equal(f.delimiter, 0x3b, `cut at ${cut}`);
    // Under ; the qualifier after "3," is a character, and the line break after it ends the record.
    assert.deepEqual(texts(frames), ['a;b;"c,\nd";e\n', '1;2;3,"x;\n', 'y";4\n'], `cut at ${cut}`);
  }
  const alone = new Framer(opts({ delimiter: null }));
  assert.deepEqual(texts([...alone.push(Buffer.from('x|y')), ...alone.end()]), ['x|y']);
  assert.equal(alone.delimiter, 0x7c);
  const none = new Framer(opts({ delimiter: null }));
  assert.equal(none.delimiter, null, 'unknown before the first line is in');
  assert.deepEqual(none.end(), []);
  assert.equal(none.delimiter, COMMA, 'an empty input has no candidate: comma');
});

test('a first line over the limit fails while the separator is still being detected', () => {
  const f = new Framer(opts({ delimiter: null, maxRecordBytes: 1024 }));
  assert.throws(
    () => {
      for (let k = 0; k < 100; k++) f.push(Buffer.from('x'.repeat(100)));
    },
    (e: unknown) => e instanceof SluiceError && e.code === 'E_MALFORMED' && e.line === 1 && /1 KiB limit/.test(e.message),
  );
});

test('frame bytes own their ArrayBuffer, so they can be transferred', () => {
  const frames = frameChunks([Buffer.from('h\n1\n'), Buffer.from('2\n3\n')], opts({ targetBytes: 4 }));
  assert.ok(frames.length >= 2);
  for (const f of frames) {
    assert.equal(f.bytes.byteOffset, 0);
    assert.equal(f.bytes.buffer.byteLength, f.bytes.length);
  }
});

test('a line break as qualifier is refused', () => {
  assert.throws(() => new Framer(opts({ quote: 0x0a })), (e: unknown) => e instanceof SluiceError && e.code === 'E_USAGE');
});

type Outcome = { frames: Array<{ hex: string; firstLine: number; endLine: number }> } | { error: { code: string; message: string; line: number | undefined } };

function outcome(chunks: Buffer[], o: FramerOptions): Outcome {
  try {
    return { frames: frameChunks(chunks, o).map((f) => ({ hex: f.bytes.toString('hex'), firstLine: f.firstLine, endLine: f.endLine })) };
  } catch (e) {
    assert.ok(e instanceof SluiceError, String(e));
    return { error: { code: e.code, message: e.message, line: e.line } };
  }
}

/** Pieces that matter to the framer: qualifiers of either kind, separators, blanks, every line break, a multi-byte character, a NUL. */
const PIECE = fc.oneof(
  { arbitrary: fc.constantFrom('a', 'bc', ',', ';', ' ', '\t', '"', '""', "'", '\r', '\n', '\r\n', '\r\r', 'é'), weight: 20 },
  { arbitrary: fc.constant('\0'), weight: 1 },
);

test('frames, line numbers and errors do not depend on where the input is split, and frames end where records do (seeded property)', () => {
  fc.assert(
    fc.property(
      fc.array(PIECE, { maxLength: 40 }).map((p) => Buffer.from(p.join(''))),
      fc.array(fc.nat(), { maxLength: 8 }),
      fc.constantFrom(Q, 0x27, null),
      // null: detected from the first line
      fc.constantFrom(COMMA, 0x3b, 0x09, 0x20, null),
      fc.integer({ min: 1, max: 16 }),
      fc.integer({ min: 1, max: 12 }),
      (input, cuts, quote, delimiter, targetBytes, maxRecordBytes) => {
        const o = opts({ quote, delimiter, targetBytes, maxRecordBytes });
        const at = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...at].map((from, k) => input.subarray(from, at[k] ?? input.length));
        const whole = outcome([input], o);
        const ctx = `input ${JSON.stringify(input.toString('latin1'))}, cuts ${JSON.stringify(at)}`;
        assert.deepEqual(outcome(chunks, o), whole, ctx);
        assert.deepEqual(outcome([...input].map((b) => Buffer.from([b])), o), whole, `byte by byte: ${ctx}`);
        if ('frames' in whole) check(input, frameChunks([input], o), { ...o, delimiter: delimiter ?? detectSeparator(input, quote).charCodeAt(0) });
      },
    ),
    { seed: 0xf4a3e, numRuns: 3000 },
  );
});
