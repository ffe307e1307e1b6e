/**
 * Hostile input, in process (SPEC §3, §9): random CSV documents go through the engine's input
 * stages (createDecoder → Framer → assertUtf8 → parseRecords per frame) cut into random chunks
 * and many small frames. A valid document gives back exactly its records and their start lines;
 * a mutated one ends in records or in a SluiceError E_MALFORMED / E_ENCODING naming a line that
 * exists, and agrees with the same document judged in one piece. A character cut at the end of
 * the file is an encoding error on the last line, in UTF-8 and in UTF-16, and a lone surrogate in
 * UTF-16 one on its own line.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { SluiceError } from '../../src/base/errors.js';
import {
  type Document,
  breaksIn,
  chunkingArb,
  describeMutations,
  documentArb,
  encode,
  fcParams as params,
  mutate,
  mutationArb,
  oracle,
  physicalLines,
  runStages,
  utf8Body,
} from '../helpers/hostile.js';

const targetBytesArb = fc.integer({ min: 1, max: 128 });

type Outcome = { ok: true; records: string[][]; lines: number[] } | { ok: false; code: string; line: number | undefined; message: string };

/** The stages' result, or the error they stopped with (anything but a SluiceError fails the test). */
async function outcomeOf(bytes: Buffer, sep: string, chunks: readonly number[], targetBytes: number, maxRecordBytes?: number): Promise<Outcome> {
  try {
    const r = await runStages(bytes, { sep, chunks, targetBytes, maxRecordBytes });
    return { ok: true, records: r.records, lines: r.lines };
  } catch (err) {
    assert.ok(err instanceof SluiceError, `expected a SluiceError, got ${String((err as Error)?.stack ?? err)}`);
    return { ok: false, code: err.code, line: err.line, message: err.message };
  }
}

function show(doc: Document): string {
  return `document (${doc.encoding}, separator ${JSON.stringify(doc.sep)}): ${JSON.stringify(doc.text)}`;
}

describe('hostile CSV input through decode → frame → parse', () => {
  test('a valid random document gives back exactly its records and their start lines, whatever the chunks and frame size', { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(documentArb(), chunkingArb, targetBytesArb, async (doc, chunks, targetBytes) => {
        const r = await runStages(doc.bytes, { sep: doc.sep, chunks, targetBytes });
        const ctx = `${show(doc)}\nchunks ${JSON.stringify(chunks)}, targetBytes ${targetBytes}`;
        assert.deepEqual(r.records, doc.records, `records\n${ctx}`);
        assert.deepEqual(r.lines, doc.lines, `start lines\n${ctx}`);
        // The decoder strips the byte-order mark and turns UTF-16 into UTF-8, nothing else.
        assert.equal(r.decoded.toString('utf8'), doc.text, `decoded bytes\n${ctx}`);
        // Frames: the bytes in order, the header alone first, line numbers chained.
        assert.equal(Buffer.concat(r.frames.map((f) => f.bytes)).toString('utf8'), doc.text, `frames do not add up to the input\n${ctx}`);
        const first = r.frames[0];
        assert.ok(first, `no frame\n${ctx}`);
        assert.equal(first.firstLine, 1);
        assert.deepEqual(r.records.slice(0, 1), doc.records.slice(0, 1));
        let expectedFirst = 1;
        for (const [k, f] of r.frames.entries()) {
          assert.ok(f.bytes.length > 0, `frame ${k} is empty\n${ctx}`);
          assert.equal(f.firstLine, expectedFirst, `frame ${k} firstLine\n${ctx}`);
          assert.equal(f.endLine, f.firstLine + breaksIn(f.bytes.toString('utf8')), `frame ${k} endLine\n${ctx}`);
          expectedFirst = f.endLine;
        }
        assert.equal(expectedFirst, 1 + breaksIn(doc.text), `last frame endLine\n${ctx}`);
      }),
      params(0x5e1ce01, 600),
    );
  });

  test('a mutated document ends in records or in E_MALFORMED / E_ENCODING naming an existing line, as judged in one piece', { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        documentArb({ encodings: ['utf8', 'utf8-bom'] }),
        fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
        chunkingArb,
        targetBytesArb,
        async (doc, mutations, chunks, targetBytes) => {
          let bytes = doc.bytes;
          for (const m of mutations) bytes = mutate(bytes, m);
          const ctx = `${show(doc)}\nmutations ${describeMutations(mutations)}\nmutated bytes ${bytes.toString('hex')}\nchunks ${JSON.stringify(chunks)}, targetBytes ${targetBytes}`;
          const got = await outcomeOf(bytes, doc.sep, chunks, targetBytes);
          if (!got.ok) {
            assert.ok(got.code === 'E_MALFORMED' || got.code === 'E_ENCODING', `code ${got.code}: ${got.message}\n${ctx}`);
            assert.ok(got.line !== undefined && Number.isInteger(got.line) && got.line >= 1, `line ${String(got.line)}: ${got.message}\n${ctx}`);
            assert.match(got.message, new RegExp(`\\bline ${got.line}\\b`), ctx);
          }
          // A mutation that makes a UTF-16 byte-order mark switches the decoder to UTF-16: no byte-level model then.
          const body = utf8Body(bytes);
          if (body === null) return;
          if (!got.ok) assert.ok((got.line as number) <= physicalLines(body), `line ${String(got.line)} is past the end: ${got.message}\n${ctx}`);
          const whole = oracle(body, doc.sep);
          if (got.ok) {
            assert.ok(whole.ok, `framed input was accepted, but in one piece: ${whole.ok ? '' : whole.reason}\n${ctx}`);
            assert.deepEqual(got.records, whole.records, `records differ from the one-piece parse\n${ctx}`);
            assert.deepEqual(got.lines, whole.lines, `start lines differ from the one-piece parse\n${ctx}`);
            for (const [k, line] of got.lines.entries()) if (k > 0) assert.ok(line > (got.lines[k - 1] as number), `start lines not increasing\n${ctx}`);
          } else {
            assert.ok(!whole.ok, `framed input failed (${got.message}) but parses in one piece\n${ctx}`);
          }
        },
      ),
      params(0x5e1ce02, 1500),
    );
  });

  test('a NUL byte anywhere is binary data on exactly its line', { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(documentArb({ encodings: ['utf8', 'utf8-bom'] }), fc.nat(), chunkingArb, targetBytesArb, async (doc, pos, chunks, targetBytes) => {
        const bytes = mutate(doc.bytes, { kind: 'nul', pos });
        const at = bytes.indexOf(0);
        const line = physicalLines(bytes.subarray(0, at));
        const got = await outcomeOf(bytes, doc.sep, chunks, targetBytes);
        const ctx = `${show(doc)}\nNUL at byte ${at}, chunks ${JSON.stringify(chunks)}, targetBytes ${targetBytes}`;
        assert.ok(!got.ok, `accepted\n${ctx}`);
        assert.equal(got.code, 'E_MALFORMED', `${got.message}\n${ctx}`);
        assert.match(got.message, /binary data|NUL/, ctx);
        assert.equal(got.line, line, `${got.message}\n${ctx}`);
      }),
      params(0x5e1ce03, 300),
    );
  });

  test('a file cut inside its last multi-byte character is invalid UTF-8 on its last line', { timeout: 60_000 }, async () => {
    const chars = ['é', '€', '中', '😀', '𝄞'];
    await fc.assert(
      fc.asyncProperty(
        documentArb({ encodings: ['utf8', 'utf8-bom'] }),
        fc.constantFrom(...chars),
        fc.nat(),
        chunkingArb,
        targetBytesArb,
        async (doc, ch, cut, chunks, targetBytes) => {
          const tail = Buffer.from(`x${ch}`, 'utf8');
          const keep = tail.length - 1 - (cut % (Buffer.byteLength(ch) - 1));
          const bytes = Buffer.concat([doc.bytes, tail.subarray(0, keep)]);
          const line = 1 + breaksIn(doc.text);
          const got = await outcomeOf(bytes, doc.sep, chunks, targetBytes);
          const ctx = `${show(doc)}\ntail ${tail.subarray(0, keep).toString('hex')}, chunks ${JSON.stringify(chunks)}, targetBytes ${targetBytes}`;
          assert.ok(!got.ok, `accepted\n${ctx}`);
          assert.equal(got.code, 'E_ENCODING', `${got.message}\n${ctx}`);
          assert.equal(got.message, `invalid UTF-8 on line ${line}`, ctx);
          assert.equal(got.line, line, ctx);
        },
      ),
      params(0x5e1ce04, 300),
    );
  });

  test('a UTF-16 file cut inside its last character (odd length, lone high surrogate) is invalid UTF-16 on its last line', { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        documentArb({ encodings: ['utf16le-bom', 'utf16be-bom'] }),
        fc.constantFrom('é', '中', '😀', '𝄞'),
        fc.integer({ min: 1, max: 3 }),
        chunkingArb,
        targetBytesArb,
        async (doc, ch, drop, chunks, targetBytes) => {
          const tail = encode(`x${ch}`, doc.encoding).subarray(2);
          // A character of the BMP is two bytes, so only one can go; a surrogate pair can lose 1 to 3.
          const keep = tail.length - Math.min(drop, tail.length - 3);
          const bytes = Buffer.concat([doc.bytes, tail.subarray(0, keep)]);
          const line = 1 + breaksIn(doc.text);
          const name = doc.encoding === 'utf16le-bom' ? 'UTF-16LE' : 'UTF-16BE';
          const got = await outcomeOf(bytes, doc.sep, chunks, targetBytes);
          const ctx = `${show(doc)}\ntail ${tail.subarray(0, keep).toString('hex')}, chunks ${JSON.stringify(chunks)}, targetBytes ${targetBytes}`;
          assert.ok(!got.ok, `accepted\n${ctx}`);
          assert.equal(got.code, 'E_ENCODING', `${got.message}\n${ctx}`);
          assert.equal(got.message, `invalid ${name} on line ${line}: the input ends in the middle of a character`, ctx);
          assert.equal(got.line, line, ctx);
        },
      ),
      params(0x5e1ce05, 300),
    );
  });

  test('a lone surrogate anywhere in a UTF-16 file is invalid UTF-16 on exactly its line', { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        documentArb({ encodings: ['utf16le-bom', 'utf16be-bom'] }),
        fc.nat(),
        fc.constantFrom(0xd800, 0xd83d, 0xdbff, 0xdc00, 0xde00, 0xdfff),
        chunkingArb,
        targetBytesArb,
        async (doc, pos, unit, chunks, targetBytes) => {
          // Between two characters, never between the halves of a pair.
          let k = pos % (doc.text.length + 1);
          if (k > 0 && k < doc.text.length && (doc.text.charCodeAt(k) & 0xfc00) === 0xdc00) k--;
          const text = doc.text.slice(0, k) + String.fromCharCode(unit) + doc.text.slice(k);
          const bytes = encode(text, doc.encoding);
          const line = 1 + breaksIn(doc.text.slice(0, k));
          const name = doc.encoding === 'utf16le-bom' ? 'UTF-16LE' : 'UTF-16BE';
          const hex = `0x${unit.toString(16).toUpperCase()}`;
          const what = unit < 0xdc00 ? (k === doc.text.length ? 'the input ends in the middle of a character' : `code unit ${hex} is a high surrogate not followed by a low surrogate`) : `code unit ${hex} is a low surrogate not preceded by a high surrogate`;
          const got = await outcomeOf(bytes, doc.sep, chunks, targetBytes);
          const ctx = `${show(doc)}\ncode unit ${hex} at ${k}, chunks ${JSON.stringify(chunks)}, targetBytes ${targetBytes}`;
          assert.ok(!got.ok, `accepted\n${ctx}`);
          assert.equal(got.code, 'E_ENCODING', `${got.message}\n${ctx}`);
          assert.equal(got.message, `invalid ${name} on line ${line}: ${what}`, ctx);
          assert.equal(got.line, line, ctx);
        },
      ),
      params(0x5e1ce06, 300),
    );
  });

});
