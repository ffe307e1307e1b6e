/**
 * Hostile input through the built CLI (SPEC §3, §4 exit codes, §9): seeded random Person files
 * come back exactly; random mutations of a valid file end in a consistent database (exit 0/1)
 * or in a one-sentence error naming a line (exit 2/3) that wrote nothing; and the named cases
 * bad-input.test.ts does not cover: a 200 MB line from stdin in bounded memory, a character cut
 * at EOF (UTF-8 and UTF-16), more duplicate headers, 5,000 columns, SQL-looking identifiers and values, and
 * path-looking file names.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { CLI, type CliResult, type Sandbox, query, runCli, summaryOf } from '../helpers/cli.js';
import {
  type Snapshot,
  type Template,
  assertNoStack,
  assertNothingWritten,
  assertUntouched,
  countOf,
  csvText,
  detailsOf,
  historyCount,
  importRun,
  makeTemplate,
  snapshot,
} from '../helpers/fixtures.js';
import {
  type CellStyle,
  type Document,
  type Encoding,
  LINE_ENDS,
  SEPARATORS,
  cellArb,
  describeMutations,
  encode,
  fcParams as params,
  layoutArb,
  mutate,
  mutationArb,
  physicalLines,
  rawControl,
  runStages,
  serialize,
  softMutationArb,
  utf8Body,
} from '../helpers/hostile.js';

/** The organization every generated Person points at: quotes, a comma, a dot and non-ASCII letters. */
const ORG = 'Ünïcode "Org", Ltd.';

type Col = 'name' | 'first_name' | 'email' | 'function' | 'org';
const COLS: readonly Col[] = ['name', 'first_name', 'email', 'function', 'org'];

/** A test's time limit: long enough that only a hang reaches it. */
const HANG = 600_000;

/** Header spellings that name each column (code or label, any case, blanks around ->). */
const SPELLINGS: Record<Col, readonly string[]> = {
  name: ['name', 'Last Name', 'NAME', 'last name'],
  first_name: ['first_name', 'First Name', 'FIRST_NAME'],
  email: ['email', 'Email'],
  function: ['function', 'Function'],
  org: ['org_id->name', 'Organization->Name', 'org_id->Name', 'Organization -> name'],
};

function columnOf(headerCell: string): Col | undefined {
  const h = headerCell.trim().toLowerCase().replace(/\s*->\s*/, '->');
  for (const c of COLS) if (SPELLINGS[c].some((s) => s.toLowerCase().replace(/\s*->\s*/, '->') === h)) return c;
  return undefined;
}

interface Person {
  name: string;
  first_name: string;
  email: string;
  function: string;
}

const maxChars = (s: string): boolean => [...s].length <= 255;
const valueArb = cellArb.filter((c) => c !== '<NULL>' && maxChars(c));
const personArb: fc.Arbitrary<Person> = fc.record({
  name: valueArb.filter((c) => c !== ''),
  first_name: valueArb,
  email: valueArb,
  function: valueArb,
});

interface PersonDoc {
  doc: Document;
  people: Person[];
  order: Col[];
}

/** Header cells are quoted or not and padded with spaces only: tabs would outvote the separator in detection. */
const headerStyleArb: fc.Arbitrary<CellStyle> = fc.record({
  forceQuote: fc.boolean(),
  padLeft: fc.constantFrom('', ' '),
  padRight: fc.constantFrom('', ' '),
});

function personDocArb(encodings: readonly Encoding[], maxPeople: number): fc.Arbitrary<PersonDoc> {
  return fc
    .record({
      // The default reconciliation keys are name, first_name, org_id: one object per row.
      people: fc.uniqueArray(personArb, { minLength: 1, maxLength: maxPeople, selector: (p) => `${p.name}\u0000${p.first_name}` }),
      order: fc.shuffledSubarray([...COLS], { minLength: COLS.length, maxLength: COLS.length }),
      spelling: fc.record({
        name: fc.constantFrom(...SPELLINGS.name),
        first_name: fc.constantFrom(...SPELLINGS.first_name),
        email: fc.constantFrom(...SPELLINGS.email),
        function: fc.constantFrom(...SPELLINGS.function),
        org: fc.constantFrom(...SPELLINGS.org),
      }),
      headerStyles: fc.array(headerStyleArb, { minLength: 5, maxLength: 5 }),
      headerEnd: fc.constantFrom(...LINE_ENDS),
      layouts: fc.array(layoutArb, { minLength: 1, maxLength: 4 }),
      sep: fc.constantFrom(...SEPARATORS),
      finalBreak: fc.boolean(),
      encoding: fc.constantFrom(...encodings),
    })
    .map(({ people, order, spelling, headerStyles, headerEnd, layouts, sep, finalBreak, encoding }) => {
      const header = order.map((c) => spelling[c]);
      const rows = people.map((p) => order.map((c) => (c === 'org' ? ORG : p[c])));
      const doc = serialize([header, ...rows], [{ blanks: [], styles: headerStyles, end: headerEnd }, ...layouts], sep, finalBreak, encoding);
      return { doc, people, order };
    });
}

/** The `#Key: value` lines before the details table (a cell of the table cannot pass for one). */
function summaryBeforeTable(stdout: string): Record<string, string> {
  const at = stdout.indexOf('line,status,id,message');
  return summaryOf(at >= 0 ? stdout.slice(0, at) : stdout);
}

function show(r: CliResult): string {
  return `exit ${String(r.code)}\nstdout:\n${r.stdout.slice(0, 4000)}\nstderr:\n${r.stderr.slice(0, 4000)}`;
}

/**
 * Exit 2: a one-line `sluice: …` sentence on stderr (line breaks it quotes from the input are
 * escaped), no stack, nothing written at all.
 */
function assertUsageError(r: CliResult, db: string, snap: Snapshot, ctx = ''): void {
  assert.equal(r.code, 2, `${show(r)}\n${ctx}`);
  assertNoStack(r.stderr);
  assert.match(r.stderr, /^sluice: \S.*\n$/, `not a one-line sluice: message\n${show(r)}\n${ctx}`);
  assertUntouched(db, snap);
}

interface PersonRow extends Person {
  id: number;
  org_id: number | null;
}

function personRows(db: string): PersonRow[] {
  return query<PersonRow>(db, 'SELECT id, name, first_name, email, function, org_id FROM Person ORDER BY id');
}

describe('hostile input through the CLI', () => {
  let template: Template;
  let orgId: number;

  before(async () => {
    template = await makeTemplate([{ cls: 'Organization', content: csvText([['name'], [ORG], ['Other']]) }]);
    orgId = (query<{ id: number }>(template.sandbox.db, 'SELECT id FROM Organization WHERE name = ?', ORG)[0] as { id: number }).id;
  });
  after(() => template.sandbox.cleanup());

  async function withFresh<T>(fn: (sb: Sandbox) => Promise<T>): Promise<T> {
    const sb = template.fresh();
    try {
      return await fn(sb);
    } finally {
      sb.cleanup();
    }
  }

  // The time limits guard against a hang, not a slow machine: these run hundreds of imports
  // (20 to 40 s on two quiet cores) and took over 120 s with four other processes beside them.
  test('random Person files come back exactly, each row on its physical line', { timeout: HANG }, async () => {
    await fc.assert(
      fc.asyncProperty(
        personDocArb(['utf8', 'utf8-bom', 'utf16le-bom', 'utf16be-bom'], 25),
        fc.integer({ min: 1, max: 400 }),
        fc.constantFrom(1, 2),
        async ({ doc, people }, frameBytes, workers) =>
          withFresh(async (sb) => {
            const r = await importRun(sb, 'Person', sb.file('people.csv', doc.bytes), ['--output', 'details', '--frame-bytes', String(frameBytes), '--workers', String(workers)]);
            const ctx = `${show(r)}\ndocument (${doc.encoding}, separator ${JSON.stringify(doc.sep)}, --frame-bytes ${frameBytes} --workers ${workers}): ${JSON.stringify(doc.text)}`;
            assert.equal(r.code, 0, ctx);
            assertNoStack(r.stderr);
            const summary = summaryBeforeTable(r.stdout);
            assert.equal(summary['Data Lines'], String(people.length), ctx);
            assert.equal(summary.Created, String(people.length), ctx);
            const details = detailsOf(r.stdout);
            assert.deepEqual(
              details.map((d) => [Number(d.line), d.status]),
              doc.lines.slice(1).map((l) => [l, 'created']),
              `lines and statuses\n${ctx}`,
            );
            const rows = personRows(sb.db);
            assert.deepEqual(
              rows.map(({ name, first_name, email, function: fn, org_id }) => ({ name, first_name, email, function: fn, org_id })),
              people.map((p) => ({ ...p, org_id: orgId })),
              `stored values\n${ctx}`,
            );
            assert.deepEqual(details.map((d) => Number(d.id)), rows.map((p) => p.id), ctx);
            assert.equal(historyCount(sb.db), historyCount(template.sandbox.db) + people.length, ctx);
          }),
      ),
      { ...params(0x5c11e01, 10), endOnFailure: true },
    );
  });

  test('a mutated file ends in a consistent database (exit 0/1) or in an error naming a line that wrote nothing (exit 2/3)', { timeout: HANG }, async () => {
    await fc.assert(
      fc.asyncProperty(
        personDocArb(['utf8', 'utf8-bom'], 12),
        fc.array(fc.oneof({ arbitrary: softMutationArb, weight: 4 }, { arbitrary: mutationArb, weight: 1 }), { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 400 }),
        async ({ doc }, mutations, keepGoing, frameBytes) =>
          withFresh(async (sb) => {
            let bytes = doc.bytes;
            for (const m of mutations) bytes = mutate(bytes, m);
            const snap = snapshot(sb.db);
            const args = ['--output', 'details', '--frame-bytes', String(frameBytes), '--workers', '2', ...(keepGoing ? ['--no-stop-on-error'] : [])];
            const r = await importRun(sb, 'Person', sb.file('mutated.csv', bytes), args);
            const ctx = `${show(r)}\n${args.join(' ')}\nmutations ${describeMutations(mutations)}\noriginal: ${JSON.stringify(doc.text)}\nmutated bytes: ${bytes.toString('hex')}`;
            assertNoStack(r.stderr);
            assertNoStack(r.stdout);
            assert.ok(r.code === 0 || r.code === 1 || r.code === 2 || r.code === 3, ctx);
            if (r.code === 2) {
              assertUsageError(r, sb.db, snap, ctx);
              assert.equal(rawControl(r.stderr.slice(0, -1)), null, `a raw control character\n${ctx}`);
              assert.match(r.stderr, /column/, ctx);
              return;
            }
            if (r.code === 3) {
              assertNothingWritten(sb.db, snap);
              // An empty file is reported as having no "first line".
              const m = /\bline (\d+)\b|\b(first) line\b/.exec(r.stderr);
              assert.ok(m, `the message names no line\n${ctx}`);
              const line = m[2] === 'first' ? 1 : Number(m[1]);
              assert.ok(line >= 1 && line <= physicalLines(bytes), `line ${line} is not in the file\n${ctx}`);
              return;
            }
            // Exit 0 or 1: the run finished; the database holds exactly what the report says.
            if (r.code === 1) assert.ok(keepGoing, `exit 1 without --no-stop-on-error\n${ctx}`);
            const summary = summaryBeforeTable(r.stdout);
            const n = (k: string): number => Number(summary[k]);
            if (r.code === 0) assert.equal(n('Issues'), 0, ctx);
            else assert.ok(n('Issues') > 0, ctx);
            assert.equal(countOf(sb.db, 'Person'), snap.counts.Person + n('Created') - n('Deleted'), `Person count\n${ctx}`);
            assert.equal(historyCount(sb.db), snap.history + n('Created') + n('Updated') + n('Deleted'), `history entries\n${ctx}`);
            // The same bytes read in process must give the rows the report lists, on the same lines
            // (unless a mutation made a UTF-16 byte-order mark, which switches the decoder).
            if (utf8Body(bytes) === null) return;
            const parsed = await runStages(bytes, { sep: null, chunks: [1 << 20], targetBytes: 1 << 20 });
            const details = detailsOf(r.stdout);
            assert.deepEqual(details.map((d) => Number(d.line)), parsed.lines.slice(1), `report lines\n${ctx}`);
            assert.equal(details.filter((d) => d.status === 'error').length, n('Issues'), ctx);
            const header = (parsed.records[0] ?? []).map(columnOf);
            const complete = COLS.every((c) => header.filter((h) => h === c).length === 1) && header.every((h) => h !== undefined);
            if (!complete) return;
            const byId = new Map<number, string[]>();
            details.forEach((d, k) => {
              if (d.status === 'created' || d.status === 'updated' || d.status === 'unchanged') byId.set(Number(d.id), parsed.records[k + 1] as string[]);
            });
            const stored = new Map(personRows(sb.db).map((p) => [p.id, p]));
            for (const [id, cells] of byId) {
              const p = stored.get(id);
              assert.ok(p, `Person ${id} of the report is not in the database\n${ctx}`);
              const cell = (c: Col): string | null => {
                const v = cells[header.indexOf(c)] as string;
                return v === '<NULL>' ? null : v;
              };
              assert.deepEqual(
                { name: p.name, first_name: p.first_name, email: p.email, function: p.function, org_id: p.org_id },
                { name: cell('name'), first_name: cell('first_name'), email: cell('email'), function: cell('function'), org_id: orgId },
                `Person ${id}\n${ctx}`,
              );
            }
          }),
      ),
      { ...params(0x5c11e02, 24), endOnFailure: true },
    );
  });

  describe('a 200 MB line streamed from stdin', () => {
    const TOTAL = 200 * 1024 * 1024;
    const LIMIT = 400 * 1024 * 1024;

    /** Stream `prefix` then TOTAL bytes of "x" into `import --file -`, reading the child's VmHWM while it runs. */
    function streamHugeLine(db: string, prefix: string): Promise<CliResult & { sent: number; peakBytes: number }> {
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [CLI, 'import', '--db', db, '--class', 'Person', '--file', '-', '--progress', 'none'], { stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        let peakKb = 0;
        const readPeak = (): void => {
          try {
            const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            if (m) peakKb = Math.max(peakKb, Number(m[1]));
          } catch {
            // the process is gone
          }
        };
        const poll = setInterval(readPeak, 20);
        child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        child.on('error', (e) => {
          clearInterval(poll);
          reject(e);
        });
        child.on('close', (code, signal) => {
          clearInterval(poll);
          resolve({ code, signal, stdout, stderr, sent, peakBytes: peakKb * 1024 });
        });
        let sent = 0;
        let closed = false;
        child.stdin.on('error', () => (closed = true));
        child.stdin.on('close', () => (closed = true));
        const block = Buffer.alloc(1 << 20, 0x78);
        child.stdin.write(prefix);
        const pump = (): void => {
          while (!closed && sent < TOTAL) {
            const n = Math.min(block.length, TOTAL - sent);
            sent += n;
            readPeak();
            if (!child.stdin.write(n === block.length ? block : block.subarray(0, n))) {
              child.stdin.once('drain', pump);
              return;
            }
          }
          if (!closed) child.stdin.end();
        };
        pump();
      });
    }

    for (const [what, prefix, line] of [
      ['as the header line', '', 1],
      ['after a header', 'name,first_name,email,org_id->name\n', 2],
    ] as const) {
      test(`${what}, without a line break: exit 3, "larger than" naming line ${line}, memory bounded`, { timeout: 120_000 }, async (t) =>
        withFresh(async (sb) => {
          const snap = snapshot(sb.db);
          const r = await streamHugeLine(sb.db, prefix);
          const ctx = `${show(r)}\nsent ${r.sent} bytes, peak ${Math.round(r.peakBytes / 1048576)} MiB`;
          t.diagnostic(`stopped after ${Math.round(r.sent / 1048576)} MiB were sent; peak VmHWM ${Math.round(r.peakBytes / 1048576)} MiB`);
          assert.equal(r.code, 3, ctx);
          assert.match(r.stderr, /larger than/, ctx);
          assert.match(r.stderr, new RegExp(`\\bline ${line}\\b`), ctx);
          assertNoStack(r.stderr);
          assert.ok(r.peakBytes > 0, `no memory reading\n${ctx}`);
          assert.ok(r.peakBytes < LIMIT, `peak memory over ${LIMIT / 1048576} MiB\n${ctx}`);
          assertNothingWritten(sb.db, snap);
        }),
      );
    }
  });

  describe('a multi-byte character cut at the end of the file', () => {
    const HEAD = 'name,first_name,email,org_id->name,function\n';
    const ROWS = `Alpha,Ann,a@x.org,"${ORG.replaceAll('"', '""')}",Dev\nBravo,Bob,b@x.org,"${ORG.replaceAll('"', '""')}",Ops\n`;
    for (const [ch, keep] of [
      ['é', 1],
      ['€', 2],
      ['😀', 3],
      ['😀', 1],
    ] as const) {
      test(`${ch} cut to ${keep} of its ${Buffer.byteLength(ch)} bytes: exit 3, invalid UTF-8 on line 4, nothing written`, async () =>
        withFresh(async (sb) => {
          const snap = snapshot(sb.db);
          const last = Buffer.concat([Buffer.from(`Charlie,Cid,c@x.org,"${ORG.replaceAll('"', '""')}",Caf`), Buffer.from(ch).subarray(0, keep)]);
          const r = await importRun(sb, 'Person', sb.file('cut.csv', Buffer.concat([Buffer.from(HEAD + ROWS), last])), []);
          assert.equal(r.code, 3, show(r));
          assert.match(r.stderr, /invalid UTF-8 on line 4\b/, show(r));
          assertNoStack(r.stderr);
          assertNothingWritten(sb.db, snap);
        }),
      );
    }

    for (const [encoding, ch, drop] of [
      ['UTF-16LE', 'é', 1],
      ['UTF-16BE', 'é', 1],
      ['UTF-16LE', '😀', 2],
      ['UTF-16BE', '😀', 3],
    ] as const) {
      test(`${encoding} with a byte-order mark, ${ch} losing ${drop} of its ${ch.length * 2} bytes: exit 3, invalid ${encoding} on line 4, nothing written`, async () =>
        withFresh(async (sb) => {
          const snap = snapshot(sb.db);
          const text = `${HEAD}${ROWS}Charlie,Cid,c@x.org,"${ORG.replaceAll('"', '""')}",Caf${ch}`;
          const bytes = encode(text, encoding === 'UTF-16LE' ? 'utf16le-bom' : 'utf16be-bom');
          const r = await importRun(sb, 'Person', sb.file('cut16.csv', bytes.subarray(0, bytes.length - drop)), []);
          assert.equal(r.code, 3, show(r));
          assert.equal(r.stderr, `sluice: invalid ${encoding} on line 4: the input ends in the middle of a character\n`, show(r));
          assertNothingWritten(sb.db, snap);
        }),
      );
    }

    for (const [encoding, ch, drop] of [
      ['UTF-16LE', 'é', 1],
      ['UTF-16BE', '😀', 1],
      ['UTF-16LE', '😀', 2],
      ['UTF-16BE', '😀', 3],
    ] as const) {
      test(`${encoding} named by --charset, without a byte-order mark, ${ch} losing ${drop} of its ${ch.length * 2} bytes: exit 3, invalid ${encoding} on line 4, nothing written`, async () =>
        withFresh(async (sb) => {
          const snap = snapshot(sb.db);
          const text = `${HEAD}${ROWS}Charlie,Cid,c@x.org,"${ORG.replaceAll('"', '""')}",Caf${ch}`;
          const bytes = encode(text, encoding === 'UTF-16LE' ? 'utf16le-bom' : 'utf16be-bom').subarray(2);
          const r = await importRun(sb, 'Person', sb.file('cut16.csv', bytes.subarray(0, bytes.length - drop)), ['--charset', encoding]);
          assert.equal(r.code, 3, show(r));
          assert.equal(r.stderr, `sluice: invalid ${encoding} on line 4: the input ends in the middle of a character\n`, show(r));
          assertNothingWritten(sb.db, snap);
        }),
      );
    }
  });

  describe('UTF-16 that is not well formed inside the file', () => {
    const HEAD = 'name,first_name,email,org_id->name\n';
    const ORG_CELL = `"${ORG.replaceAll('"', '""')}"`;
    const rows = (third: string): string => `Alpha,Ann,a@x.org,${ORG_CELL}\nBravo,Bob,b@x.org,${ORG_CELL}\n${third},Cid,c@x.org,${ORG_CELL}\nDelta,Dan,d@x.org,${ORG_CELL}\n`;
    const named = (encoding: 'UTF-16LE' | 'UTF-16BE', bom: boolean): { name: string; encode(text: string): Buffer; args: string[] } => ({
      name: `${encoding}${bom ? ' with a byte-order mark' : ' named by --charset'}`,
      encode: (text) => {
        const bytes = encode(text, encoding === 'UTF-16LE' ? 'utf16le-bom' : 'utf16be-bom');
        return bom ? bytes : bytes.subarray(2);
      },
      args: bom ? [] : ['--charset', encoding],
    });

    for (const [third, what] of [
      ['Char\ud83die', 'code unit 0xD83D is a high surrogate not followed by a low surrogate'],
      ['Char\ude00lie', 'code unit 0xDE00 is a low surrogate not preceded by a high surrogate'],
      ['Char\ude00\ud83dlie', 'code unit 0xDE00 is a low surrogate not preceded by a high surrogate'],
    ] as const) {
      for (const encoding of ['UTF-16LE', 'UTF-16BE'] as const) {
        for (const bom of [true, false]) {
          const n = named(encoding, bom);
          test(`${n.name}, ${JSON.stringify(third)} on line 4: exit 3, invalid ${encoding} on line 4 naming the code unit, nothing written`, async () =>
            withFresh(async (sb) => {
              const snap = snapshot(sb.db);
              const r = await importRun(sb, 'Person', sb.file('lone.csv', n.encode(HEAD + rows(third))), [...n.args, '--no-stop-on-error', '--frame-bytes', '64']);
              assert.equal(r.code, 3, show(r));
              assert.equal(r.stderr, `sluice: invalid ${encoding} on line 4: ${what}\n`, show(r));
              assertNothingWritten(sb.db, snap);
            }),
          );
        }
      }
    }

    for (const encoding of ['UTF-16LE', 'UTF-16BE'] as const) {
      const n = named(encoding, encoding === 'UTF-16BE');
      test(`${n.name}, a NUL code unit on line 4: exit 3, binary data named as a code unit, nothing written`, async () =>
        withFresh(async (sb) => {
          const snap = snapshot(sb.db);
          const r = await importRun(sb, 'Person', sb.file('nul.csv', n.encode(HEAD + rows('Char\0lie'))), n.args);
          assert.equal(r.code, 3, show(r));
          assert.equal(r.stderr, 'sluice: binary data (NUL code unit) on line 4; this does not look like a text file\n', show(r));
          assertNothingWritten(sb.db, snap);
        }),
      );
    }

    test('UTF-16LE JSON with a character where an object should start: exit 3, the character named, not a byte of it', async () =>
      withFresh(async (sb) => {
        const snap = snapshot(sb.db);
        const json = `[{"name":"Alpha","first_name":"Ann","org_id->name":${JSON.stringify(ORG)}},\n é]`;
        const r = await importRun(sb, 'Person', sb.file('u16.json', encode(json, 'utf16le-bom')), []);
        assert.equal(r.code, 3, show(r));
        assert.equal(r.stderr, 'sluice: malformed JSON on line 2: expected an object ("{"), found "é" (U+00E9); the input must be an array of objects or one object per line\n', show(r));
        assertNothingWritten(sb.db, snap);
      }),
    );
  });

  describe('control characters from the input are escaped in messages', () => {
    /** Nothing but the final line break may act on a terminal. */
    const assertPlain = (r: CliResult): void => {
      assert.match(r.stderr, /^sluice: [^\n]*\n$/, show(r));
      assert.equal(rawControl(r.stderr.slice(0, -1)), null, show(r));
    };
    const ORG_CELL = `"${ORG.replaceAll('"', '""')}"`;

    for (const [what, header, shown] of [
      ['an escape sequence', 'name,first_name,org\x1b[2J\x1b[H,email', '"org\\x1b[2J\\x1b[H"'],
      ['a quoted CR and LF', 'name,"first\r\nname",org_id->name', '"first\\r\\nname"'],
      ['a C1 control (NEL) and a CSI', 'name,first\u0085name\u009b,org_id->name', '"first\\u0085name\\u009b"'],
      ['a right-to-left override', 'name,\u202eeman_tsrif,org_id->name', '"\\u202eeman_tsrif"'],
      ['BEL, backspace and DEL', 'name,a\x07\x08\x7fb,org_id->name', '"a\\x07\\x08\\x7fb"'],
    ] as const) {
      test(`a header name with ${what}: exit 2, one line, the name escaped`, async () =>
        withFresh(async (sb) => {
          const snap = snapshot(sb.db);
          const r = await importRun(sb, 'Person', sb.file('ctl.csv', `${header}\nA,B,C,D\n`), []);
          assertUsageError(r, sb.db, snap);
          assert.ok(r.stderr.startsWith(`sluice: unknown column ${shown} (valid columns for Person`), show(r));
          assertPlain(r);
        }),
      );
    }

    for (const [what, file, message] of [
      ['a cell in an error', `id,name,first_name,org_id->name\n1\x1b]0;pwned\x07,A,B,${ORG_CELL}\n`, 'sluice: line 2: column "id": "1\\x1b]0;pwned\\x07" is not an object id (a positive integer)\n'],
      ['a character after a closing quote', `name,first_name,org_id->name\n"A"\x1b[31m,B,${ORG_CELL}\n`, 'sluice: malformed CSV on line 2: unexpected character "\\x1b" (U+001B) after the closing quote of field 1 (a quote inside a quoted field must be doubled; --relax-quotes reads such a field as written)\n'],
      ['a character after a closing quote in the header', `"name"\x1b[0m,first_name\nA,B\n`, 'sluice: malformed header on line 1: unexpected character "\\x1b" (U+001B) after the closing quote of field 1 ('],
      ['a NUL in a header name', 'name,first\0name\nA,B\n', 'sluice: binary data (NUL byte) on line 1; this does not look like a text file\n'],
    ] as const) {
      test(`${what}: exit 3, one line, escaped`, async () =>
        withFresh(async (sb) => {
          const snap = snapshot(sb.db);
          const r = await importRun(sb, 'Person', sb.file('ctl.csv', file), []);
          assert.equal(r.code, 3, show(r));
          assert.ok(r.stderr.startsWith(message), show(r));
          assertPlain(r);
          assertNothingWritten(sb.db, snap);
        }),
      );
    }

    /** Every line of a report is plain: its `#` lines and their values hold no raw control character. */
    const assertPlainReport = (r: CliResult): void => {
      assert.equal(r.code, 0, show(r));
      assert.equal(r.stderr, '', show(r));
      const lines = r.stdout.split('\n');
      assert.equal(lines.pop(), '', show(r));
      for (const line of lines) {
        assert.match(line, /^#/, show(r));
        assert.equal(rawControl(line), null, `${JSON.stringify(line)}\n${show(r)}`);
      }
    };

    test('header names that are valid once trimmed, around control characters: exit 0, the #Columns line escaped', async () =>
      withFresh(async (sb) => {
        const header = `"\r\nname\x0b",first_name\x0c,"\torg_id ->\x0c name\x0b"`;
        const r = await importRun(sb, 'Person', sb.file('ctl-ok.csv', `${header}\nA,B,${ORG_CELL}\n`), []);
        assertPlainReport(r);
        // Spaces and tabs around a cell are trimmed as the header is read, other controls are
        // kept (and escaped in the report); the column names are matched once trimmed.
        assert.equal(summaryOf(r.stdout).Columns, '\\r\\nname\\x0b, first_name\\x0c, \\torg_id ->\\x0c name\\x0b', show(r));
        assert.equal(countOf(sb.db, 'Person'), 1);
      }),
    );

    test('a control character as separator and qualifier, and in the comment: exit 0, the # lines escaped', async () =>
      withFresh(async (sb) => {
        const file = `name\x1ffirst_name\x1forg_id->name\nA\x1fB\x1f\x1e${ORG}\x1e\n`;
        const r = await importRun(sb, 'Person', sb.file('ctl-sep.csv', file), ['--separator', '\x1f', '--qualifier', '\x1e', '--comment', 'nightly\x1b]0;pwned\x07']);
        assertPlainReport(r);
        const summary = summaryOf(r.stdout);
        assert.equal(summary.Separator, '\\x1f', show(r));
        assert.equal(summary.Qualifier, '\\x1e', show(r));
        assert.equal(summary['Change tracking comment'], 'nightly\\x1b]0;pwned\\x07', show(r));
        assert.equal(countOf(sb.db, 'Person'), 1);
      }),
    );

    test('a JSON key with control characters: exit 3, the key escaped', async () =>
      withFresh(async (sb) => {
        const snap = snapshot(sb.db);
        const json = JSON.stringify([{ name: 'A', first_name: 'B', 'org_id->name': ORG }, { name: 'C', 'x\u001b[8m\u0085': 1 }]);
        const r = await importRun(sb, 'Person', sb.file('ctl.json', json), []);
        assert.equal(r.code, 3, show(r));
        assert.ok(r.stderr.startsWith('sluice: line 1: key "x\\x1b[8m\\u0085" is not among the columns'), show(r));
        assertPlain(r);
        assertNothingWritten(sb.db, snap);
      }),
    );
  });

  describe('headers', () => {
    for (const [what, header, named] of [
      ['the same name twice', 'name,first_name,email,email,org_id->name', /column 4 "email".*column 3 "email"/],
      ['the same reference by code and by label', 'name,org_id->name,Organization->Name', /column 3 "Organization->Name".*column 2 "org_id->name"/],
      ['a quoted, padded code and a label', 'name," first_name ",First Name,org_id->name', /column 3 "First Name"/],
      ['a reserved column in two cases', 'id,name,ID,org_id->name', /column 3 "ID".*column 1 "id"/],
      ['a name in two cases', 'NAME,first_name,name,org_id->name', /column 3 "name".*column 1 "NAME"/],
    ] as const) {
      test(`duplicate columns (${what}): exit 2 naming both`, async () =>
        withFresh(async (sb) => {
          const snap = snapshot(sb.db);
          const r = await importRun(sb, 'Person', sb.file('dup.csv', `${header}\nA,B,C,D\n`), []);
          assertUsageError(r, sb.db, snap);
          assert.match(r.stderr, named);
          assert.match(r.stderr, /same attribute/);
        }),
      );
    }

    const WIDE = 5000;
    for (const [what, extra, named] of [
      ['5,000 distinct unknown columns', (i: number) => `x${i}`, /unknown column "x0"/],
      ['5,000 copies of one unknown column', () => 'junk', /unknown column "junk"/],
      ['5,000 copies of a valid column', () => 'email', /column 5 "email" maps to the same attribute as column 4 "email"/],
    ] as const) {
      test(`${what}: exit 2 with a short message naming the first bad column`, async () =>
        withFresh(async (sb) => {
          const snap = snapshot(sb.db);
          const header = ['name', 'first_name', 'org_id->name', 'email', ...Array.from({ length: WIDE }, (_, i) => extra(i))];
          const row = ['A', 'B', ORG, 'a@x.org', ...Array.from({ length: WIDE }, (_, i) => `v${i}`)];
          const r = await importRun(sb, 'Person', sb.file('wide.csv', csvText([header, row])), []);
          assertUsageError(r, sb.db, snap);
          assert.match(r.stderr, named);
          // It names the first offending column and the valid choices, not the 5,000 others.
          assert.ok(r.stderr.length < 1000, `message of ${r.stderr.length} characters`);
          assert.doesNotMatch(r.stderr, /x1\b|x4999/);
        }),
      );
    }

    test('a row of 5,000 cells under a 4-column header is one short row error naming its line', async () =>
      withFresh(async (sb) => {
        const snap = snapshot(sb.db);
        const row = ['A', 'B', ORG, 'a@x.org', ...Array.from({ length: WIDE - 4 }, (_, i) => `v${i}`)];
        const r = await importRun(sb, 'Person', sb.file('ragged.csv', csvText([['name', 'first_name', 'org_id->name', 'email'], ['Ok', 'Row', ORG, 'ok@x.org'], row])), []);
        assert.equal(r.code, 3, show(r));
        assert.equal(r.stderr, `sluice: line 3: the row has ${WIDE} fields, the header has 4\n`);
        assertNothingWritten(sb.db, snap);
      }),
    );

    for (const header of [
      'name; DROP TABLE Person; --,first_name,org_id->name',
      'name,first_name,"org_id->name = \'\' OR 1=1 --"',
      'name,"first_name"" FROM Person; --",org_id->name',
      "name,first_name,org_id->name,Person.email",
      'name,first_name,org_id->name,sqlite_master',
      "name,first_name,\"org_id->(SELECT name FROM Organization)\"",
      'name,first_name,org_id->name,"email\') --"',
    ]) {
      test(`an SQL-looking header is an unknown column (exit 2), the tables intact: ${header}`, async () =>
        withFresh(async (sb) => {
          const snap = snapshot(sb.db);
          const r = await importRun(sb, 'Person', sb.file('sql.csv', `${header}\nA,B,C,D\n`), []);
          assertUsageError(r, sb.db, snap);
          assert.match(r.stderr, /unknown column "/);
          assert.equal(query(sb.db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'Person'").length, 1);
        }),
      );
    }

    for (const [option, value] of [
      ['--keys', 'email) OR 1=1 --'],
      ['--keys', 'email; DROP TABLE Person'],
      ['--class', 'Person; DROP TABLE Person'],
      ['--class', 'sqlite_master'],
    ] as const) {
      test(`an SQL-looking ${option} value is a usage error naming it: ${value}`, async () =>
        withFresh(async (sb) => {
          const snap = snapshot(sb.db);
          const file = sb.file('p.csv', csvText([['name', 'email', 'org_id->name'], ['A', 'a@x.org', ORG]]));
          const cls = option === '--class' ? value : 'Person';
          const keys = option === '--keys' ? ['--keys', value] : [];
          const r = await runCli(['import', '--db', sb.db, '--class', cls, '--file', file, '--progress', 'none', ...keys]);
          assertUsageError(r, sb.db, snap);
          assert.ok(r.stderr.includes(value), show(r));
        }),
      );
    }
  });

  describe('values', () => {
    const SQL_VALUES = [
      "' OR '1'='1",
      '"; DROP TABLE Person; --',
      "x'); DELETE FROM Person; --",
      "') ; ATTACH DATABASE '/tmp/pwn.db' AS pwn; --",
      "' || (SELECT sqlite_version()) || '",
      '%',
      '_',
      '%%\\_',
      'NULL',
      'null',
      '?',
      ':name',
      '@p',
      '$1',
      'char(0)',
      '0x00',
      '1; SELECT * FROM _sluice_history',
      '*/ SELECT 1 /*',
    ];

    test('SQL-looking values in every string column are stored verbatim', async () =>
      withFresh(async (sb) => {
        const rows = SQL_VALUES.map((v, i) => [`${v}`, `${v}#${i}`, v, v, ORG]);
        const r = await importRun(sb, 'Person', sb.file('sql-values.csv', csvText([['name', 'first_name', 'email', 'function', 'org_id->name'], ...rows])), ['--workers', '2', '--frame-bytes', '64']);
        assert.equal(r.code, 0, show(r));
        assert.deepEqual(
          personRows(sb.db).map(({ name, first_name, email, function: fn, org_id }) => [name, first_name, email, fn, org_id]),
          rows.map((row) => [...row.slice(0, 4), orgId]),
        );
        assert.equal(countOf(sb.db, 'Organization'), countOf(template.sandbox.db, 'Organization'));
      }),
    );

    for (const ref of [`${ORG.slice(0, 3)}%`, '%', `_${ORG.slice(1)}`, "' OR '1'='1", `${ORG}' --`, ORG.toLowerCase(), ` ${ORG}`]) {
      test(`a reference value that would match only as SQL or a pattern resolves to nothing: ${JSON.stringify(ref)}`, async () =>
        withFresh(async (sb) => {
          const snap = snapshot(sb.db);
          const r = await importRun(sb, 'Person', sb.file('ref.csv', csvText([['name', 'first_name', 'org_id->name'], ['Ok', 'Row', ORG], ['Bad', 'Ref', ref]])), []);
          assert.equal(r.code, 3, show(r));
          assert.match(r.stderr, /^sluice: line 3: /);
          assertNoStack(r.stderr);
          assertNothingWritten(sb.db, snap);
        }),
      );
    }
  });

  describe('file names', () => {
    const CSV = csvText([['name', 'first_name', 'org_id->name'], ['Path', 'Test', ORG]]);

    for (const file of ['../../etc/passwd-sluice-none', '../../../../../../no/such/dir/passwd', '/proc/self/no-such-file', './-', '']) {
      test(`--file ${JSON.stringify(file)} that cannot be read: exit 2 naming --file`, async () =>
        withFresh(async (sb) => {
          const snap = snapshot(sb.db);
          const r = await runCli(['import', '--db', sb.db, '--class', 'Person', '--file', file, '--progress', 'none'], { cwd: sb.dir });
          assertUsageError(r, sb.db, snap);
          assert.match(r.stderr, /--file/);
          if (file !== '') assert.ok(r.stderr.includes(file), show(r));
        }),
      );
    }

    test('--file naming a directory: exit 2 naming --file', async () =>
      withFresh(async (sb) => {
        const snap = snapshot(sb.db);
        const r = await runCli(['import', '--db', sb.db, '--class', 'Person', '--file', sb.dir, '--progress', 'none']);
        assertUsageError(r, sb.db, snap);
        assert.match(r.stderr, /--file/);
      }),
    );

    for (const name of [';rm -rf x.csv', '$(touch pwned).csv', '`touch pwned`.csv', "it's & \"that\" | x.csv", '-x.csv', 'line\nbreak.csv']) {
      test(`a file named ${JSON.stringify(name)} is imported like any other`, async () =>
        withFresh(async (sb) => {
          sb.file('x', 'keep me');
          sb.file(name, CSV);
          const r = await runCli(['import', '--db', sb.db, '--class', 'Person', `--file=${name}`, '--progress', 'none'], { cwd: sb.dir });
          assert.equal(r.code, 0, show(r));
          assert.equal(summaryOf(r.stdout).Created, '1');
          assert.deepEqual(personRows(sb.db).map((p) => [p.name, p.first_name, p.org_id]), [['Path', 'Test', orgId]]);
          assert.ok(existsSync(join(sb.dir, 'x')), 'x was removed');
          assert.ok(!existsSync(join(sb.dir, 'pwned')), 'a command in the name ran');
          assert.equal((query<{ file: string }>(sb.db, 'SELECT file FROM _sluice_change ORDER BY id DESC LIMIT 1')[0] as { file: string }).file, name);
        }),
      );
    }
  });
});
