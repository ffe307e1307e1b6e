/**
 * The bad inputs of SPEC §3, §4 and §9: malformed files (exit 3, the line named), bad headers
 * and bad command lines (exit 2, the column or option named), each with what its message
 * must say, and a file mixing valid and invalid rows. Imported into Person over
 * BAD_INPUT_TEMPLATE.
 */
import { join } from 'node:path';
import type { Step } from './fixtures.js';

export const HEADER = 'name,first_name,org_id->name,email\n';
export const GOOD = 'Alpha,Ann,Sales,a@x.org\nBravo,Bob,Sales,b@x.org\n';

export const BAD_INPUT_TEMPLATE: readonly Step[] = [
  { cls: 'Organization', content: 'name\nIT Department\nSales\n' },
  { cls: 'Person', content: HEADER + 'Existing,Eve,Sales,eve@x.org\n' },
];

export interface BadInput {
  name: string;
  kind: 'file' | 'header' | 'command';
  /** the file imported (null: none, see file or argv) */
  content: string | Buffer | null;
  /** arguments after `import --class Person --file F --progress none` */
  args: string[];
  code: 2 | 3;
  /** what standard error must say */
  stderr: RegExp[];
  /** the --file given instead, in the sandbox directory `dir` */
  file?: (dir: string) => string;
  /** the whole command line instead (without --db), a file written by `write` */
  argv?: (write: (name: string, content: string) => string) => string[];
}

export const BAD_INPUTS: readonly BadInput[] = [
  {
    name: 'invalid UTF-8 on line N',
    kind: 'file',
    content: Buffer.concat([Buffer.from(HEADER + GOOD + 'Charlie,C'), Buffer.from([0xc3, 0x28]), Buffer.from('d,Sales,c@x.org\nDelta,Dan,Sales,d@x.org\n')]),
    args: [],
    code: 3,
    stderr: [/invalid UTF-8 on line 4\b/],
  },
  {
    name: 'invalid UTF-8 stops even with --no-stop-on-error, after rows already applied in earlier batches',
    kind: 'file',
    content: Buffer.concat([Buffer.from(HEADER + GOOD + GOOD.replace(/@/g, '2@')), Buffer.from([0xff]), Buffer.from('x,Y,Sales,z@x.org\n')]),
    args: ['--no-stop-on-error', '--frame-bytes', '1', '--workers', '1'],
    code: 3,
    stderr: [/invalid UTF-8 on line 6\b/],
  },
  {
    name: 'invalid UTF-8 in the header names line 1',
    kind: 'file',
    content: Buffer.concat([Buffer.from('name,first'), Buffer.from([0xe9]), Buffer.from('_name\n' + GOOD)]),
    args: [],
    code: 3,
    stderr: [/invalid UTF-8 on line 1\b/],
  },
  {
    name: 'an unterminated quote names the line where it starts',
    kind: 'file',
    content: HEADER + GOOD + 'Charlie,"Cid,Sales,c@x.org\nDelta,Dan,Sales,d@x.org\nEcho,Eve,Sales,e@x.org\n',
    args: [],
    code: 3,
    stderr: [/unterminated/i, /line 4\b/],
  },
  {
    name: 'a record over the size limit (a 17 MB field)',
    kind: 'file',
    content: Buffer.concat([Buffer.from(HEADER + GOOD + 'Charlie,'), Buffer.alloc(17 * 1024 * 1024, 0x78), Buffer.from(',Sales,c@x.org\n')]),
    args: [],
    code: 3,
    stderr: [/line 4\b/, /limit|large/i],
  },
  {
    name: 'binary data (NUL bytes)',
    kind: 'file',
    content: Buffer.concat([Buffer.from(HEADER + GOOD + 'Char'), Buffer.from([0, 0, 1, 2, 0]), Buffer.from('lie,Cid,Sales,c@x.org\n')]),
    args: [],
    code: 3,
    stderr: [/binary|NUL/i, /line 4\b/],
  },
  {
    name: 'UTF-16 without a byte-order mark: the message names the --charset that reads it',
    kind: 'file',
    content: Buffer.from(HEADER + GOOD, 'utf16le'),
    args: [],
    code: 3,
    stderr: [/line 1\b/, /looks like UTF-16LE text without a byte-order mark: give --charset UTF-16LE/],
  },
  { name: 'an empty file', kind: 'file', content: '', args: [], code: 3, stderr: [/empty/i, /line 1\b|first line/] },

  { name: 'duplicate header names', kind: 'header', content: 'name,first_name,org_id->name,email,Email\nA,B,Sales,a@x.org,b@x.org\n', args: [], code: 2, stderr: [/Email/, /email/, /line 1|column/] },
  { name: 'a label and a code naming the same attribute are duplicates too', kind: 'header', content: 'name,Last Name,org_id->name\nA,B,Sales\n', args: [], code: 2, stderr: [/Last Name/] },
  { name: 'an empty header name', kind: 'header', content: 'name,,org_id->name,email\nA,B,Sales,a@x.org\n', args: [], code: 2, stderr: [/column 2/, /empty/i] },
  {
    name: 'SQL-looking header names are unknown columns, and the table survives',
    kind: 'header',
    content: 'name,"email""; DROP TABLE Person; --",org_id->name\nA,B,Sales\n',
    args: [],
    code: 2,
    stderr: [/DROP TABLE/, /unknown column/i],
  },

  {
    name: 'missing --class',
    kind: 'command',
    content: null,
    args: [],
    code: 2,
    stderr: [/--class/],
    argv: (write) => ['import', '--file', write('p.csv', HEADER + GOOD), '--progress', 'none'],
  },
  { name: 'missing --file', kind: 'command', content: null, args: [], code: 2, stderr: [/--file/], argv: () => ['import', '--class', 'Person', '--progress', 'none'] },
  { name: 'an unknown option', kind: 'command', content: HEADER + GOOD, args: ['--frobnicate', 'yes'], code: 2, stderr: [/--frobnicate/] },
  ...(
    [
      ['--action', 'merge'],
      ['--chunk-size', 'ten'],
      ['--chunk-size', '2.5'],
      ['--date-format', 'Q/W'],
      ['--charset', 'KLINGON-8'],
    ] as const
  ).map(
    ([option, value]): BadInput => ({
      name: `a bad ${option} value (${value})`,
      kind: 'command',
      content: HEADER + GOOD,
      args: [option, value],
      code: 2,
      stderr: [new RegExp(option), new RegExp(value.replace(/[/-]/g, '\\$&'))],
    }),
  ),
  {
    name: 'a file that does not exist',
    kind: 'command',
    content: null,
    args: [],
    code: 2,
    stderr: [/no-such-file\.csv/, /--file|no such file/i],
    file: (dir) => join(dir, 'no-such-file.csv'),
  },
];

/** Valid and invalid rows, formula- and SQL-looking values: with --keys email --no-stop-on-error, lines 2, 5 and 7 are created, 3, 4, 6 and 8 in error. */
export const MIXED_ROWS_CSV =
  'name,first_name,org_id->name,email,status,function\n' +
  'Good1,G,Sales,g1@x.org,active,"=cmd|\' /C calc\'!A0"\n' +
  'Ragged,R,Sales\n' +
  'BadEnum,B,Sales,b@x.org,sleeping,x\n' +
  "Good2,\"Robert'); DROP TABLE Person;--\",Sales,g2@x.org,inactive,+1+1\n" +
  'BadRef,B,Atlantis,r@x.org,active,x\n' +
  'Good3,G,Sales,g3@x.org,,@SUM(A1)\n' +
  ',NoName,Sales,n@x.org,active,x\n';
