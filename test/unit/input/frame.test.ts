import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Framer, type Frame, type FramerOptions } from '../../../src/input/frame.js';
import { SluiceError } from '../../../src/base/errors.js';

const Q = 0x22;

function opts(over: Partial<FramerOptions> = {}): FramerOptions {
  return { quote: Q, targetBytes: 1, maxRecordBytes: 1 << 20, ...over };
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

/** Byte-by-byte model: the offsets where records end, and the line each offset is on. */
function reference(input: Buffer, quote: number | null): { boundaries: Set<number>; lineAt: number[] } {
  const boundaries = new Set<number>();
  const lineAt: number[] = [1];
  let inQuote = false;
  let line = 1;
  for (let i = 0; i < input.length; i++) {
    const b = input[i];
    let brk = false;
    if (b === quote) inQuote = !inQuote;
    else if (b === 0x0d) {
      line++;
      if (input[i + 1] !== 0x0a) brk = true;
    } else if (b === 0x0a) {
      if (input[i - 1] !== 0x0d) line++;
      brk = true;
    }
    lineAt[i + 1] = line;
    if (brk && !inQuote) boundaries.add(i + 1);
  }
  return { boundaries, lineAt };
}

function check(input: Buffer, frames: Frame[], o: FramerOptions): void {
  assert.deepEqual(Buffer.concat(frames.map((f) => f.bytes)), input);
  const { boundaries, lineAt } = reference(input, o.quote);
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
    '6,last,no-newline',
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
  assert.equal(frames.length, 8);
  assert.equal(frames[1]!.bytes.toString(), '1,"a\r\nb",x\n');
  assert.deepEqual(frames.at(-1), { bytes: Buffer.from('6,last,no-newline'), firstLine: 11, endLine: 11 });
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

/** Pieces that matter to the framer: qualifiers of either kind, every line break, a multi-byte character, a NUL. */
const PIECE = fc.oneof(
  { arbitrary: fc.constantFrom('a', 'bc', ',', '"', '""', "'", '\r', '\n', '\r\n', '\r\r', 'é'), weight: 20 },
  { arbitrary: fc.constant('\0'), weight: 1 },
);

test('frames, line numbers and errors do not depend on where the input is split (seeded property)', () => {
  fc.assert(
    fc.property(
      fc.array(PIECE, { maxLength: 40 }).map((p) => Buffer.from(p.join(''))),
      fc.array(fc.nat(), { maxLength: 8 }),
      fc.constantFrom(Q, 0x27, null),
      fc.integer({ min: 1, max: 16 }),
      fc.integer({ min: 1, max: 12 }),
      (input, cuts, quote, targetBytes, maxRecordBytes) => {
        const o = opts({ quote, targetBytes, maxRecordBytes });
        const at = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...at].map((from, k) => input.subarray(from, at[k] ?? input.length));
        const whole = outcome([input], o);
        const ctx = `input ${JSON.stringify(input.toString('latin1'))}, cuts ${JSON.stringify(at)}`;
        assert.deepEqual(outcome(chunks, o), whole, ctx);
        assert.deepEqual(outcome([...input].map((b) => Buffer.from([b])), o), whole, `byte by byte: ${ctx}`);
      },
    ),
    { seed: 0xf4a3e, numRuns: 3000 },
  );
});
