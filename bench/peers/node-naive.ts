/**
 * Peer B (SPEC §8): the single-threaded Node importer a good engineer writes in an afternoon.
 * csv-parse streaming over the file's bytes, then per row: the organization from a Map cache
 * (a prepared SELECT on a miss), the person by email, and an INSERT or an UPDATE — only when
 * a value differs — all prepared once, in transactions of 10,000 rows.
 *
 * Runs as its own process so its peak RSS is its own:
 *   node dist/bench/peers/node-naive.js --db F --file F
 * and prints one JSON line: {"rows":…,"created":…,"updated":…,"unchanged":…,"errors":…}.
 */
import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { parse } from 'csv-parse';
import { type Contestant, type ContestantRun, type RunInput, failure, lastJsonLine } from '../lib/contestant.js';
import { measure } from '../lib/measure.js';
import { NODE_NAIVE } from '../lib/paths.js';

const BATCH = 10_000;
/** Person columns the feed fills, in the order the statements bind them. */
const COLUMNS = ['first_name', 'name', 'email', 'phone', 'mobile_phone', 'function', 'employee_number', 'status', 'notify'] as const;
const ORG_COLUMN = 'org_id->name';

export interface NaiveCounts {
  rows: number;
  created: number;
  updated: number;
  unchanged: number;
  errors: number;
}

export async function importPersons(dbPath: string, file: string): Promise<NaiveCounts> {
  const db = new Database(dbPath, { fileMustExist: true });
  // The same settings as Sluice's writer connection: this peer is not to be handicapped.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('temp_store = MEMORY');
  db.pragma('cache_size = -262144');
  db.pragma('mmap_size = 268435456');
  // Looking people up by email needs an index; the name matches Sluice's so that a database
  // Sluice already indexed does not get a second one.
  db.exec(`CREATE INDEX IF NOT EXISTS "Person__k_email" ON "Person"(email)`);

  const findOrg = db.prepare(`SELECT id FROM "Organization" WHERE name = ?`).pluck();
  const findPerson = db.prepare(`SELECT id, ${COLUMNS.map((c) => `"${c}"`).join(', ')}, org_id FROM "Person" WHERE email = ?`).raw(true);
  const insert = db.prepare(`INSERT INTO "Person"(${COLUMNS.map((c) => `"${c}"`).join(', ')}, org_id) VALUES (${COLUMNS.map(() => '?').join(', ')}, ?)`);
  const update = db.prepare(`UPDATE "Person" SET ${COLUMNS.map((c) => `"${c}" = ?`).join(', ')}, org_id = ? WHERE id = ?`);

  const orgs = new Map<string, number | null>();
  const counts: NaiveCounts = { rows: 0, created: 0, updated: 0, unchanged: 0, errors: 0 };
  let at: number[] = [];
  let orgAt = -1;
  let emailAt = -1;

  const orgId = (name: string): number | null => {
    let id = orgs.get(name);
    if (id === undefined) {
      id = (findOrg.get(name) as number | undefined) ?? null;
      orgs.set(name, id);
    }
    return id;
  };

  const applyBatch = db.transaction((batch: string[][]) => {
    for (const r of batch) {
      const values: (string | number | null)[] = at.map((i) => r[i] ?? '');
      const org = orgId(r[orgAt] ?? '');
      if (org === null) {
        counts.errors++;
        continue;
      }
      values.push(org);
      const found = findPerson.get(r[emailAt]) as (string | number | null)[] | undefined;
      if (found === undefined) {
        insert.run(values);
        counts.created++;
        continue;
      }
      let same = true;
      for (let i = 0; i < values.length; i++) {
        if (values[i] !== found[i + 1]) {
          same = false;
          break;
        }
      }
      if (same) {
        counts.unchanged++;
      } else {
        values.push(found[0] as number);
        update.run(values);
        counts.updated++;
      }
    }
  });

  const parser = createReadStream(file, { highWaterMark: 1 << 20 }).pipe(
    parse({ delimiter: ',', record_delimiter: ['\r\n', '\n', '\r'], trim: true, skip_empty_lines: true, relax_column_count: true }),
  );
  let header = true;
  let batch: string[][] = [];
  await new Promise<void>((done, fail) => {
    parser.on('readable', () => {
      let r: string[] | null;
      while ((r = parser.read() as string[] | null) !== null) {
        if (header) {
          header = false;
          at = COLUMNS.map((c) => r?.indexOf(c) ?? -1);
          orgAt = r.indexOf(ORG_COLUMN);
          emailAt = r.indexOf('email');
          const missing = [...COLUMNS, ORG_COLUMN].filter((c) => !r?.includes(c));
          if (missing.length > 0) {
            fail(new Error(`the header lacks ${missing.join(', ')}`));
            parser.destroy();
            return;
          }
          continue;
        }
        counts.rows++;
        batch.push(r);
        if (batch.length >= BATCH) {
          applyBatch(batch);
          batch = [];
        }
      }
    });
    parser.on('end', () => done());
    parser.on('error', fail);
  });
  if (batch.length > 0) applyBatch(batch);
  db.close();
  return counts;
}

export async function runPeerB(input: RunInput): Promise<ContestantRun> {
  const measured = await measure(process.execPath, [NODE_NAIVE, '--db', input.db, '--file', input.file]);
  const report = lastJsonLine(measured.stdout);
  const error = failure(measured) ?? (report ? null : `no JSON line in the output: ${measured.stdout.slice(0, 300)}`);
  return { measured, rows: typeof report?.rows === 'number' ? report.rows : null, report, error };
}

export const peerB: Contestant = {
  id: 'peer_b',
  label: 'peer B: node naive',
  usesDb: true,
  run: runPeerB,
};

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { db: { type: 'string' }, file: { type: 'string' } } });
  if (!values.db || !values.file) throw new Error('usage: node-naive --db F --file F');
  const counts = await importPersons(values.db, values.file);
  process.stdout.write(JSON.stringify(counts) + '\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`node-naive: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
