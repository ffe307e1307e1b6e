import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseRecords } from '../../../src/input/parse.js';

/** The records of `text` parsed as a frame, with the start line parseRecords gives each. */
function startLines(text: string, firstLine = 1, delimiter = ','): { records: string[][]; lines: number[] } {
  const r = parseRecords(Buffer.from(text, 'utf8'), firstLine, { delimiter: delimiter.charCodeAt(0), quote: 34 });
  return { records: r.records, lines: [...r.lines] };
}

function lines(text: string, firstLine = 1, delimiter = ','): number[] {
  return startLines(text, firstLine, delimiter).lines;
}

describe('parseRecords: line terminators', () => {
  it('counts LF', () => {
    assert.deepEqual(lines('a,b\nc,d\ne,f\n'), [1, 2, 3]);
  });

  it('counts CRLF as one break', () => {
    assert.deepEqual(lines('a,b\r\nc,d\r\ne,f\r\n'), [1, 2, 3]);
  });

  it('counts a lone CR as one break', () => {
    assert.deepEqual(lines('a,b\rc,d\re,f\r'), [1, 2, 3]);
  });

  it('handles a last record without a terminator', () => {
    assert.deepEqual(lines('a,b\nc,d'), [1, 2]);
    assert.deepEqual(lines('a,b\r\nc,d'), [1, 2]);
    assert.deepEqual(lines('a,b\rc,d'), [1, 2]);
  });

  it('handles terminators mixed in one frame', () => {
    assert.deepEqual(lines('a\nb\r\nc\rd\n\re'), [1, 2, 3, 4, 6]);
  });

  it('starts from the frame\'s first line', () => {
    assert.deepEqual(lines('a,b\nc,d\n', 1000), [1000, 1001]);
  });
});

describe('parseRecords: quoted line breaks', () => {
  it('gives the line a multi-line record starts on, and counts its breaks for the next one', () => {
    const r = startLines('a,"x\ny"\nc,d\n');
    assert.deepEqual(r.records, [['a', 'x\ny'], ['c', 'd']]);
    assert.deepEqual(r.lines, [1, 3]);
  });

  it('counts CRLF and CR inside quotes as one break each', () => {
    assert.deepEqual(lines('a,"x\r\ny\r\nz"\r\nc,d\r\n', 5), [5, 8]);
    assert.deepEqual(lines('a,"x\ry"\rc,d\r', 5), [5, 7]);
  });

  it('counts blank lines inside quotes', () => {
    assert.deepEqual(lines('"\n\n"\nb\n'), [1, 4]);
    assert.deepEqual(lines('a,"x\n\n\ny"\nb,c\n'), [1, 5]);
  });

  it('handles a quoted line break at the very end of a record', () => {
    assert.deepEqual(lines('a,"x\n"\nb\n'), [1, 3]);
  });
});

describe('parseRecords: blank lines between records', () => {
  it('skips empty lines', () => {
    assert.deepEqual(lines('a\n\n\nb\n'), [1, 4]);
    assert.deepEqual(lines('a\r\n\r\nb\r\n'), [1, 3]);
    assert.deepEqual(lines('a\r\rb\r'), [1, 3]);
  });

  it('skips empty lines at the start of the frame', () => {
    assert.deepEqual(lines('\n\na\nb\n', 10), [12, 13]);
    assert.deepEqual(lines('\r\n\r\na', 10), [12]);
  });

  it('skips whitespace-only lines', () => {
    assert.deepEqual(lines('a\n   \n\t\nb\n'), [1, 4]);
    assert.deepEqual(lines('a\r\n  \r\n\r\nb'), [1, 4]);
    assert.deepEqual(lines(' \t \nb\n', 2), [3]);
  });

  it('does not skip a record that starts with spaces', () => {
    const r = startLines('a\n  b,c\n\n  d\n');
    assert.deepEqual(r.records, [['a'], ['b', 'c'], ['d']]);
    assert.deepEqual(r.lines, [1, 2, 4]);
  });

  it('gives a record of empty fields in a tab-separated file its own line', () => {
    // "\t" alone is a record of two empty fields, not a blank line
    const r = startLines('x\ty\n\t\nz\tw\n', 1, '\t');
    assert.deepEqual(r.records, [['x', 'y'], ['', ''], ['z', 'w']]);
    assert.deepEqual(r.lines, [1, 2, 3]);
  });

  it('agrees with a line count done by hand over a larger mixed frame', () => {
    const rows: string[] = [];
    const expected: number[] = [];
    let line = 7;
    const breaks = ['\n', '\r\n', '\r'];
    for (let i = 0; i < 200; i++) {
      const br = breaks[i % 3] as string;
      expected.push(line);
      if (i % 5 === 0) {
        rows.push(`r${i},"multi${br}line${br}cell"${br}`);
        line += 3;
      } else {
        rows.push(`r${i},v${br}`);
        line += 1;
      }
      if (i % 7 === 0) {
        rows.push(`${br} ${br}`);
        line += 2;
      }
    }
    assert.deepEqual(lines(rows.join(''), 7), expected);
  });
});
