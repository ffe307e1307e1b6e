import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import iconv from 'iconv-lite';
import { TextSink } from '../../../src/report/sink.js';

/** A slow destination that records what it got and how much was ever waiting in its buffer. */
function slowSink(highWaterMark: number): { stream: Writable; chunks: Buffer[]; maxPending: () => number } {
  const chunks: Buffer[] = [];
  let maxPending = 0;
  const stream = new Writable({
    highWaterMark,
    write(chunk: Buffer, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      setTimeout(cb, 1);
    },
  });
  const origWrite = stream.write.bind(stream);
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    const ok = (origWrite as (c: unknown, ...r: unknown[]) => boolean)(chunk, ...rest);
    maxPending = Math.max(maxPending, stream.writableLength);
    return ok;
  }) as typeof stream.write;
  return { stream, chunks, maxPending: () => maxPending };
}

async function pump(sink: TextSink, lines: number, line: (i: number) => string): Promise<void> {
  for (let i = 0; i < lines; i++) if (sink.add(line(i))) await sink.flush();
  await sink.finish();
  sink.release();
}

describe('TextSink', () => {
  it('waits for the destination: no more than one chunk is ever queued beyond its buffer', async () => {
    const { stream, chunks, maxPending } = slowSink(16 * 1024);
    const sink = new TextSink(stream, 'UTF-8', 8 * 1024);
    await pump(sink, 20_000, (i) => `row ${i},some text to make it longer\n`);
    const text = Buffer.concat(chunks).toString('utf8');
    assert.equal(text.split('\n').length - 1, 20_000);
    assert.ok(text.endsWith('row 19999,some text to make it longer\n'));
    // a sink that ignored backpressure would queue the whole ~700 KB output
    assert.ok(maxPending() < 16 * 1024 + 16 * 1024, `at most ${maxPending()} bytes were waiting`);
  });

  it('encodes in the requested charset', async () => {
    const { stream, chunks } = slowSink(1024);
    await pump(new TextSink(stream, 'ISO-8859-1', 4), 2, (i) => (i === 0 ? 'Zoë,' : 'café\n'));
    assert.deepEqual(Buffer.concat(chunks), Buffer.from([0x5a, 0x6f, 0xeb, 0x2c, 0x63, 0x61, 0x66, 0xe9, 0x0a]));
    const utf16 = slowSink(1024);
    await pump(new TextSink(utf16.stream, 'UTF-16LE'), 1, () => 'é💧\n');
    assert.equal(iconv.decode(Buffer.concat(utf16.chunks), 'utf-16le'), 'é💧\n');
  });

  it('notices characters the charset cannot hold', async () => {
    const latin1 = new TextSink(slowSink(1024).stream, 'ISO-8859-1');
    await pump(latin1, 1, () => 'price €5\n');
    assert.equal(latin1.lossy, true);
    const cp1252 = new TextSink(slowSink(1024).stream, 'WINDOWS-1252');
    await pump(cp1252, 1, () => 'price €5\n');
    assert.equal(cp1252.lossy, false);
  });

  it('fails the export when the destination fails', async () => {
    const broken = new Writable({
      write(_chunk, _enc, cb) {
        cb(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }));
      },
    });
    const sink = new TextSink(broken, 'UTF-8', 4);
    await assert.rejects(pump(sink, 100, () => 'some row\n'), /no space left/);
  });
});
