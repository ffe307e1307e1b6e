/**
 * `sluice export` of a large class on PostgreSQL streams: its rows come from a server-side
 * cursor a page at a time, so the process's peak memory stays far below what holding the
 * class would take. 50,000 servers of 8 KiB each (400 MB of text; fetched at once, the
 * export's peak is over 500 MB) are exported through the built CLI, which must stay under
 * 200 MB; and the reader itself is seen paging, by bytes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { SluiceError } from '../../src/base/errors.js';
import { defaultColumns } from '../../src/export/columns.js';
import type { ClassDef } from '../../src/model/types.js';
import { resolveModel } from '../../src/model/store.js';
import { FIRST_PAGE, PAGE_BYTES, openPostgresReader } from '../../src/store/postgres/read.js';
import { initPostgres } from '../../src/store/postgres/store.js';
import { parsePostgresUrl } from '../../src/store/postgres/url.js';
import { CLI, type Sandbox, sandbox } from '../helpers/cli.js';
import { usePostgres } from '../helpers/postgres.js';

const server = usePostgres();

const ROWS = 50_000;
const DESCRIPTION = 8192;
const LIMIT_MB = 200;

/** Run the CLI, counting its output without holding it; its peak RSS as the process itself measured it. */
function exportMeasured(sb: Sandbox, args: string[]): Promise<{ code: number | null; stderr: string; bytes: number; lines: number; peakMb: number }> {
  const probe = sb.file('peak-rss.mjs', `import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(process.env.SLUICE_TEST_RSS, String(process.resourceUsage().maxRSS)));\n`);
  const out = join(sb.dir, 'peak-rss.txt');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', pathToFileURL(probe).href, CLI, ...args], { env: { ...process.env, SLUICE_TEST_RSS: out }, stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    let lines = 0;
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      bytes += d.length;
      for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      // maxRSS is in KiB.
      const peakMb = Number(readFileSync(out, 'utf8')) / 1024;
      resolve({ code, stderr, bytes, lines, peakMb });
    });
  });
}

describe('export of a large class on PostgreSQL', () => {
  let box: Sandbox;
  let url: string;

  before(async () => {
    box = sandbox();
    url = await server().freshDatabase();
    await initPostgres(url, resolveModel('cmdb'));
    const c = await server().connect(parsePostgresUrl(url).database);
    try {
      await c.query(`INSERT INTO sluice."Organization" (id, name, status) VALUES (1000, 'Acme', 'active')`);
      // Text that does not compress to nothing on the server, in a class with a reference and a link set.
      await c.query(
        `INSERT INTO sluice."Server" (name, org_id, status, description)
         SELECT 'srv-' || g, 1000, 'production', repeat(md5(g::text), $1) FROM generate_series(1, $2) g`,
        [DESCRIPTION / 32, ROWS],
      );
    } finally {
      await c.end();
    }
  });

  after(() => box.cleanup());

  it(`streams ${ROWS.toLocaleString('en-US')} objects of 8 KiB through the CLI in under ${LIMIT_MB} MB`, { timeout: 300_000 }, async () => {
    const r = await exportMeasured(box, ['export', '--db', url, '--class', 'Server', '--columns', 'name,org_id->name,description,software_list']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(r.lines, ROWS + 1, 'a header and one line per object');
    assert.ok(r.bytes > ROWS * DESCRIPTION, `${r.bytes} bytes written`);
    assert.ok(r.peakMb < LIMIT_MB, `peak RSS ${r.peakMb.toFixed(0)} MB; holding the class would take more than ${(ROWS * DESCRIPTION) / 1e6} MB`);
  });

  it('reads the rows from a server-side cursor, a page of about PAGE_BYTES at a time', async () => {
    const reader = await openPostgresReader(url);
    try {
      const cls = reader.model.classes.get('Server') as ClassDef;
      const { sql } = reader.exportQuery(cls, defaultColumns(reader.model, cls, false));
      const pages: { rows: number; bytes: number }[] = [];
      let fetching = '';
      for await (const page of reader.pages(sql)) {
        let rows = 0;
        let bytes = 0;
        for (const row of page) {
          rows++;
          for (const v of row) bytes += typeof v === 'string' ? v.length : 8;
        }
        pages.push({ rows, bytes });
        if (pages.length === 2) {
          // What the reader's connection last asked the server, seen from another one.
          const c = await server().connect(parsePostgresUrl(url).database);
          try {
            const q = await c.query<{ query: string }>(`SELECT query FROM pg_stat_activity WHERE application_name = 'sluice' AND pid <> pg_backend_pid()`);
            fetching = q.rows.map((row) => row.query).join('\n');
          } finally {
            await c.end();
          }
        }
      }
      assert.equal(pages.reduce((n, p) => n + p.rows, 0), ROWS);
      assert.equal(pages[0]?.rows, FIRST_PAGE);
      const largest = Math.max(...pages.map((p) => p.bytes));
      assert.ok(largest <= 2 * PAGE_BYTES, `the largest page holds ${largest} bytes of values (${pages.length} pages)`);
      assert.ok(pages.length >= (ROWS * DESCRIPTION) / (2 * PAGE_BYTES));
      assert.match(fetching, /^FETCH FORWARD \d+ FROM sluice_rows_\d+$/m);
    } finally {
      await reader.close();
    }
  });

  it('a connection lost in the middle of an export is one error naming --db and the URL', async () => {
    const reader = await openPostgresReader(url);
    try {
      const cls = reader.model.classes.get('Server') as ClassDef;
      const pages = reader.pages(reader.exportQuery(cls, defaultColumns(reader.model, cls, false)).sql)[Symbol.asyncIterator]();
      assert.equal((await pages.next()).done, false);
      const c = await server().connect(parsePostgresUrl(url).database);
      try {
        // Waits (up to 10 s) until the reader's server process has ended.
        const ended = await c.query<{ ok: boolean }>(`SELECT pg_terminate_backend(pid, 10000) AS ok FROM pg_stat_activity WHERE application_name = 'sluice' AND pid <> pg_backend_pid()`);
        assert.deepEqual(ended.rows, [{ ok: true }]);
      } finally {
        await c.end();
      }
      await assert.rejects(pages.next(), (err: unknown) => {
        assert.ok(err instanceof SluiceError, String(err));
        assert.equal(err.code, 'E_DB');
        assert.match(err.message, /^--db: cannot read schema sluice of postgres:\/\/postgres@127\.0\.0\.1:\d+\/\w+: /);
        return true;
      });
    } finally {
      await reader.close();
    }
  });
});
