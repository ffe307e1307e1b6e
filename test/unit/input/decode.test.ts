import { test } from 'node:test';
import assert from 'node:assert/strict';
import iconv from 'iconv-lite';
import { checkCharset, createDecoder, type DecodeInfo } from '../../../src/input/decode.js';
import { SluiceError } from '../../../src/base/errors.js';

interface Decoded {
  text: string;
  pieces: Buffer[];
  info: DecodeInfo;
}

async function decode(charset: string | undefined, chunks: Buffer[]): Promise<Decoded> {
  const { stream, info } = createDecoder(charset);
  const pieces: Buffer[] = [];
  stream.on('data', (b: Buffer) => pieces.push(b));
  const done = new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  for (const c of chunks) stream.write(c);
  stream.end();
  await done;
  return { text: Buffer.concat(pieces).toString('utf8'), pieces, info: await info };
}

function bytewise(buf: Buffer): Buffer[] {
  return [...buf].map((x) => Buffer.from([x]));
}

/** Every way to cut buf in two, plus byte by byte and whole. */
function splits(buf: Buffer): Buffer[][] {
  const out: Buffer[][] = [[buf], bytewise(buf)];
  for (let i = 1; i < buf.length; i++) out.push([buf.subarray(0, i), buf.subarray(i)]);
  return out;
}

const TEXT = 'id,name\né€😀,x\n';

test('UTF-8 without BOM passes through without copying', async () => {
  const a = Buffer.from('id,name\n');
  const c = Buffer.from('1,é\n');
  const r = await decode(undefined, [a, c]);
  assert.deepEqual(r.info, { charset: 'UTF-8', bom: false });
  assert.equal(r.pieces.length, 2);
  assert.equal(r.pieces[0], a);
  assert.equal(r.pieces[1], c);
});

test('UTF-8 is not validated here, so invalid bytes pass through for the framer to report', async () => {
  const bad = Buffer.from([0x61, 0xff, 0x0a]);
  const r = await decode(undefined, [bad]);
  assert.deepEqual(Buffer.concat(r.pieces), bad);
});

test('each BOM is detected and removed, however the first bytes are split', async () => {
  const cases: Array<[string, Buffer]> = [
    ['UTF-8', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(TEXT, 'utf8')])],
    ['UTF-16LE', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(TEXT, 'utf16le')])],
    ['UTF-16BE', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(TEXT, 'utf16le').swap16()])],
  ];
  for (const [charset, bytes] of cases) {
    for (const chunks of splits(bytes)) {
      const r = await decode(undefined, chunks);
      assert.equal(r.text, TEXT, `${charset} in ${chunks.length} chunks`);
      assert.deepEqual(r.info, { charset, bom: true });
    }
  }
});

test('a BOM matching the named charset is removed', async () => {
  const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(TEXT, 'utf16le')]);
  assert.equal((await decode('utf-16le', [le])).text, TEXT);
  const u8 = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(TEXT)]);
  assert.deepEqual((await decode('UTF8', [u8])).info, { charset: 'UTF-8', bom: true });
});

test('UTF-16 named: the BOM picks the byte order, LE without one', async () => {
  const be = Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(TEXT, 'utf16le').swap16()]);
  const withBom = await decode('UTF-16', [be]);
  assert.equal(withBom.text, TEXT);
  assert.deepEqual(withBom.info, { charset: 'UTF-16BE', bom: true });
  const noBom = await decode('UTF-16', [Buffer.from(TEXT, 'utf16le')]);
  assert.equal(noBom.text, TEXT);
  assert.deepEqual(noBom.info, { charset: 'UTF-16LE', bom: false });
});

test('UTF-16LE and BE without BOM, with characters and surrogate pairs split across chunks', async () => {
  const le = Buffer.from(TEXT, 'utf16le');
  const be = Buffer.from(TEXT, 'utf16le').swap16();
  for (const chunks of splits(le)) assert.equal((await decode('UTF-16LE', chunks)).text, TEXT);
  for (const chunks of splits(be)) assert.equal((await decode('UTF-16BE', chunks)).text, TEXT);
});

test('UTF-16 cut inside its last character is invalid UTF-16 on the last line, however it is split', async () => {
  const le = (t: string): Buffer => Buffer.from(t, 'utf16le');
  const be = (t: string): Buffer => Buffer.from(t, 'utf16le').swap16();
  const BOM = { le: Buffer.from([0xff, 0xfe]), be: Buffer.from([0xfe, 0xff]) };
  const body = 'id,name\r\né,😀\n';
  const cases: Array<[string | undefined, string, Buffer, number]> = [];
  for (const [charset, bom, enc] of [
    [undefined, BOM.le, le],
    [undefined, BOM.be, be],
    ['UTF-16LE', Buffer.alloc(0), le],
    ['UTF-16BE', Buffer.alloc(0), be],
    ['UTF-16', Buffer.alloc(0), le],
  ] as const) {
    const name = charset === 'UTF-16BE' || bom === BOM.be ? 'UTF-16BE' : 'UTF-16LE';
    const full = Buffer.concat([bom, enc(body + 'x')]);
    // An odd number of bytes: the last character lost its second byte.
    cases.push([charset, name, full.subarray(0, full.length - 1), 3]);
    // A high surrogate without its low half: a character outside the BMP cut in two.
    const astral = Buffer.concat([bom, enc(body + '😀')]);
    cases.push([charset, name, astral.subarray(0, astral.length - 2), 3]);
    cases.push([charset, name, astral.subarray(0, astral.length - 1), 3]);
    // The cut character is alone on the first line.
    cases.push([charset, name, Buffer.concat([bom, enc('a')]).subarray(0, bom.length + 1), 1]);
    cases.push([charset, name, Buffer.concat([bom, enc('\r')]).subarray(0, bom.length + 1), 1]);
    // CR, CRLF and LF each end a line, also when a chunk ends between CR and LF.
    const breaks = Buffer.concat([bom, enc('a\r\r\n\n😀')]);
    cases.push([charset, name, breaks.subarray(0, bom.length + 11), 4]);
    cases.push([charset, name, breaks.subarray(0, bom.length + 12), 4]);
  }
  for (const [charset, name, bytes, line] of cases) {
    for (const chunks of splits(bytes)) {
      await assert.rejects(
        decode(charset, chunks),
        (e: unknown) =>
          e instanceof SluiceError &&
          e.code === 'E_ENCODING' &&
          e.line === line &&
          e.message === `invalid ${name} on line ${line}: the input ends in the middle of a character`,
        `${charset ?? 'BOM'} ${bytes.toString('hex')} in ${chunks.length} chunks`,
      );
    }
  }
});

test('UTF-16 ending on a whole character or a whole surrogate pair is accepted', async () => {
  for (const text of ['a', '😀', 'a\r\n😀', '']) {
    const bytes = Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]);
    for (const chunks of splits(bytes)) assert.equal((await decode(undefined, chunks)).text, text);
  }
});

test('a lone surrogate inside UTF-16 input is invalid UTF-16 on its line, however it is split', async () => {
  const le = (t: string): Buffer => Buffer.from(t, 'utf16le');
  const be = (t: string): Buffer => Buffer.from(t, 'utf16le').swap16();
  const BOM = { le: Buffer.from([0xff, 0xfe]), be: Buffer.from([0xfe, 0xff]) };
  const high = (unit: string): string => `code unit ${unit} is a high surrogate not followed by a low surrogate`;
  const low = (unit: string): string => `code unit ${unit} is a low surrogate not preceded by a high surrogate`;
  const texts: Array<[string, number, string]> = [
    // A high surrogate followed by a character of the BMP, by a line break, by another high one.
    ['id,name\r\n1,a\ud83dz\n2,b\n', 2, high('0xD83D')],
    ['id,name\n1,\ud83d\n2,b\n', 2, high('0xD83D')],
    ['id,name\n\ud83d\ud83d\ude00\n', 2, high('0xD83D')],
    // A low surrogate alone, first in the input, after a whole pair, and a pair in the wrong order.
    ['\ude00id,name\n', 1, low('0xDE00')],
    ['id,name\r\r\n😀\udc00,x\n', 3, low('0xDC00')],
    ['id\n\n\ude00\ud83d,x\n', 3, low('0xDE00')],
    // The first of two problems is the one reported; a cut at the end comes after it.
    ['a\n\udfff\nb\n\ud800', 2, low('0xDFFF')],
  ];
  for (const [text, line, what] of texts) {
    for (const [charset, bom, enc, name] of [
      [undefined, BOM.le, le, 'UTF-16LE'],
      [undefined, BOM.be, be, 'UTF-16BE'],
      ['UTF-16LE', Buffer.alloc(0), le, 'UTF-16LE'],
      ['UTF-16BE', Buffer.alloc(0), be, 'UTF-16BE'],
      ['UTF-16', Buffer.alloc(0), le, 'UTF-16LE'],
    ] as const) {
      const bytes = Buffer.concat([bom, enc(text)]);
      for (const chunks of splits(bytes)) {
        await assert.rejects(
          decode(charset, chunks),
          (e: unknown) => e instanceof SluiceError && e.code === 'E_ENCODING' && e.line === line && e.message === `invalid ${name} on line ${line}: ${what}`,
          `${charset ?? 'BOM'} ${JSON.stringify(text)} in ${chunks.length} chunks`,
        );
      }
    }
  }
});

test('a NUL code unit in UTF-16 input is binary data on its line, named as a code unit', async () => {
  for (const [text, line] of [
    ['id,name\n1,a\0b\n', 2],
    ['\0', 1],
    ['id\r\n\r\0', 3],
    ['a😀\n\0\ud800', 2],
  ] as const) {
    for (const bytes of [Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]), Buffer.from(text, 'utf16le')]) {
      const charset = bytes[0] === 0xfe ? undefined : 'UTF-16LE';
      for (const chunks of splits(bytes)) {
        await assert.rejects(
          decode(charset, chunks),
          (e: unknown) =>
            e instanceof SluiceError &&
            e.code === 'E_MALFORMED' &&
            e.line === line &&
            e.message === `binary data (NUL code unit) on line ${line}; this does not look like a text file`,
          `${charset ?? 'BOM'} ${JSON.stringify(text)} in ${chunks.length} chunks`,
        );
      }
    }
  }
});

test('single-byte charsets decode to UTF-8', async () => {
  const latin1 = Buffer.from([0x69, 0x64, 0x0a, 0xe9, 0x74, 0xe9, 0x0a]);
  for (const chunks of splits(latin1)) {
    const r = await decode('latin1', chunks);
    assert.equal(r.text, 'id\nété\n');
    assert.deepEqual(r.info, { charset: 'ISO-8859-1', bom: false });
  }
  assert.equal((await decode('ISO-8859-15', [Buffer.from([0xa4])])).text, '€');
  assert.equal((await decode('WINDOWS-1252', [Buffer.from([0x80, 0x9c])])).text, '€œ');
  assert.equal((await decode('cp1251', [Buffer.from([0xcf, 0xf0, 0xe8])])).text, 'При');
});

test('a multi-byte charset keeps a character split across chunks', async () => {
  const sjis = iconv.encode('名前\n', 'Shift_JIS');
  for (const chunks of splits(sjis)) assert.equal((await decode('Shift_JIS', chunks)).text, '名前\n');
});

test('a BOM of another charset than the named one fails before any output', async () => {
  const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('a\n', 'utf16le')]);
  const { stream, info } = createDecoder('ISO-8859-1');
  const pieces: Buffer[] = [];
  stream.on('data', (b: Buffer) => pieces.push(b));
  const failed = new Promise<unknown>((resolve) => stream.on('error', resolve));
  stream.end(le);
  const isMismatch = (e: unknown) =>
    e instanceof SluiceError &&
    e.code === 'E_ENCODING' &&
    e.line === 1 &&
    e.option === '--charset' &&
    e.message.startsWith('the file starts with a UTF-16LE byte-order mark but --charset is ISO-8859-1');
  assert.ok(isMismatch(await failed));
  await assert.rejects(info, isMismatch);
  assert.deepEqual(pieces, []);
  await assert.rejects(decode('UTF-16BE', [le]), (e: unknown) => e instanceof SluiceError && e.code === 'E_ENCODING');
  await assert.rejects(decode('UTF-8', [le]), (e: unknown) => e instanceof SluiceError && e.code === 'E_ENCODING');
});

test('short or empty input', async () => {
  assert.deepEqual(await decode(undefined, []), { text: '', pieces: [], info: { charset: 'UTF-8', bom: false } });
  assert.deepEqual((await decode('UTF-16', [])).info, { charset: 'UTF-16LE', bom: false });
  assert.equal((await decode(undefined, [Buffer.from('a')])).text, 'a');
  // The start of a BOM without the rest is data.
  const partial = await decode(undefined, [Buffer.from([0xef, 0xbb])]);
  assert.deepEqual(Buffer.concat(partial.pieces), Buffer.from([0xef, 0xbb]));
  assert.equal(partial.info.bom, false);
  assert.equal((await decode(undefined, bytewise(Buffer.from([0xef, 0x61, 0x62])))).pieces.length > 0, true);
  assert.deepEqual((await decode(undefined, [Buffer.from([0xff, 0x61])])).info, { charset: 'UTF-8', bom: false });
});

test('info settles as soon as the first bytes are seen', async () => {
  const { stream, info } = createDecoder(undefined);
  stream.resume();
  stream.write(Buffer.from([0xff]));
  let seen: DecodeInfo | undefined;
  void info.then((i) => (seen = i));
  await new Promise((r) => setImmediate(r));
  assert.equal(seen, undefined);
  stream.write(Buffer.from([0xfe, 0x61, 0x00]));
  assert.deepEqual(await info, { charset: 'UTF-16LE', bom: true });
  stream.end();
});

test('info rejects when the stream is destroyed before any byte', async () => {
  const { stream, info } = createDecoder(undefined);
  stream.destroy();
  await assert.rejects(info, (e: unknown) => e instanceof SluiceError);
});

test('checkCharset gives canonical names for the usual spellings', () => {
  const names: Record<string, string> = {
    'utf-8': 'UTF-8',
    utf8: 'UTF-8',
    'UTF-16le': 'UTF-16LE',
    ucs2: 'UTF-16LE',
    utf16be: 'UTF-16BE',
    'utf-16': 'UTF-16',
    latin1: 'ISO-8859-1',
    'iso-8859-1': 'ISO-8859-1',
    ISO_8859_15: 'ISO-8859-15',
    latin9: 'ISO-8859-15',
    'WINDOWS-1252': 'WINDOWS-1252',
    cp1252: 'WINDOWS-1252',
    cp1251: 'WINDOWS-1251',
    'koi8-r': 'KOI8-R',
    cp437: 'CP437',
    Shift_JIS: 'SHIFT_JIS',
    gb2312: 'GB2312',
  };
  for (const [given, canonical] of Object.entries(names)) assert.equal(checkCharset(given), canonical, given);
});

test('an unknown charset is a usage error naming valid ones', () => {
  for (const bad of ['klingon', '', 'base64']) {
    assert.throws(
      () => checkCharset(bad),
      (e: unknown) =>
        e instanceof SluiceError &&
        e.code === 'E_USAGE' &&
        e.option === '--charset' &&
        e.message.includes(`"${bad}"`) &&
        /UTF-8.*ISO-8859-1.*WINDOWS-1252/.test(e.message),
    );
  }
  assert.throws(() => createDecoder('klingon'), (e: unknown) => e instanceof SluiceError && e.code === 'E_USAGE');
});
