/**
 * The differential test on PostgreSQL: generated models and runs (generators.ts) are
 * imported into a fresh PostgreSQL schema by runImport, and must give what the reference
 * applier gives (reference.ts: the rows one at a time, in file order): the same exit codes,
 * report rows, counts, and objects, link sets and last ids given. Frames of one record and
 * of the default size: the writer's segments end on every kind of in-run dependency the
 * generators draw (duplicate keys, references to rows of the same file, renames, deletes).
 *
 * Fewer cases than on SQLite (each needs a database of its own on the server); SLUICE_FUZZ=N
 * runs N, from SLUICE_FUZZ_SEED when given.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { exitCodeFor } from '../../src/base/errors.js';
import { runImport } from '../../src/engine/run.js';
import { buildModel } from '../../src/model/load.js';
import type { ModelFile, Scalar } from '../../src/model/types.js';
import { SQLITE_SHAPED_TYPES } from '../../src/store/postgres/read.js';
import { initPostgres } from '../../src/store/postgres/store.js';
import { usePostgres } from '../helpers/postgres.js';
import { type Case, type DbObject, type DbSnapshot, csvOf, describeCase } from './case.js';
import { compareRuns } from './check.js';
import { type EngineRun, optionsOf } from './engine.js';
import { caseArb } from './generators.js';
import { knownBugsOf } from './known-bugs.js';
import { type RowReport, emptyCounts, runReference } from './reference.js';
import pg from 'pg';

const server = usePostgres();

const fuzz = Number(process.env.SLUICE_FUZZ ?? 0);
const numRuns = Number.isInteger(fuzz) && fuzz > 0 ? fuzz : 40;
const seed = process.env.SLUICE_FUZZ_SEED !== undefined ? Number(process.env.SLUICE_FUZZ_SEED) : fuzz > 0 ? Date.now() % 2 ** 31 : 20_251_207;

async function readSnapshot(url: string, model: ModelFile): Promise<DbSnapshot> {
  const client = new pg.Client({ connectionString: url, types: SQLITE_SHAPED_TYPES });
  await client.connect();
  try {
    await client.query('SET search_path = sluice');
    const out: DbSnapshot = {};
    for (const [name, cls] of Object.entries(model.classes)) {
      const attrs = Object.entries(cls.attributes);
      const links = new Map<string, Map<number, number[]>>();
      for (const [code, a] of attrs) {
        if (a.type !== 'links') continue;
        const members = new Map<number, number[]>();
        for (const r of (await client.query<{ from_id: number; to_id: number }>(`SELECT from_id, to_id FROM "${name}_${code}" ORDER BY from_id, to_id`)).rows) {
          let list = members.get(r.from_id);
          if (!list) members.set(r.from_id, (list = []));
          list.push(r.to_id);
        }
        links.set(code, members);
      }
      const rows = (await client.query<Record<string, Scalar>>(`SELECT * FROM "${name}" ORDER BY id`)).rows;
      const objects: DbObject[] = rows.map((row) => {
        const values: Record<string, Scalar> = {};
        const sets: Record<string, number[]> = {};
        const id = row.id as number;
        for (const [code, a] of attrs) {
          if (a.type === 'links') sets[code] = links.get(code)?.get(id) ?? [];
          else values[code] = row[code] ?? null;
        }
        return { id, source: (row.source as string | null) ?? null, source_id: (row.source_id as string | null) ?? null, values, links: sets };
      });
      const seq = (await client.query<{ last_value: number; is_called: number }>(`SELECT last_value, is_called FROM "_seq_${name}"`)).rows[0];
      out[name] = { seq: seq && seq.is_called === 1 ? seq.last_value : 0, objects };
    }
    return out;
  } finally {
    await client.end();
  }
}

async function runOnPostgres(c: Case, frameBytes: number | undefined): Promise<EngineRun[]> {
  const url = await server().freshDatabase();
  await initPostgres(url, buildModel(c.model, 'case model'));
  const dir = mkdtempSync(join(tmpdir(), 'sluice-pgdiff-'));
  try {
    const out: EngineRun[] = [];
    for (const [k, run] of c.runs.entries()) {
      const file = join(dir, `run${k + 1}.csv`);
      writeFileSync(file, csvOf(run));
      const o = optionsOf(url, file, run, { name: 'postgres', driver: 'runImport', frameBytes });
      let report: Omit<EngineRun, 'snapshot'>;
      try {
        const r = await runImport(o);
        const rows: RowReport[] = [];
        if (r.rows) {
          for await (const x of r.rows.rows()) rows.push({ line: x.line, status: x.status, id: x.id, changed: x.changed, message: x.message, warnings: x.warnings });
          r.rows.close();
        }
        const s = r.summary;
        report = { exitCode: r.exitCode, usage: null, rows, counts: s.counts, rolledBack: s.rolledBack, lastCommittedLine: s.lastCommittedLine, dataLines: s.dataLines, stop: s.stopMessage };
      } catch (err) {
        if (exitCodeFor(err) !== 2) throw err;
        report = { exitCode: 2, usage: (err as Error).message, rows: [], counts: emptyCounts(), rolledBack: null, lastCommittedLine: null, dataLines: 0, stop: null };
      }
      out.push({ ...report, snapshot: await readSnapshot(url, c.model) });
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test(`imports into PostgreSQL agree with the reference applier on ${numRuns} generated cases (seed ${seed})`, async () => {
  let k = 0;
  const property = fc.asyncProperty(caseArb, async (c) => {
    const expected = runReference(c);
    if (knownBugsOf(c, expected).length > 0) return;
    // Every other case in frames of one record: a segment per frame.
    const frameBytes = k++ % 2 === 0 ? 1 : undefined;
    const diffs = compareRuns(c, expected, await runOnPostgres(c, frameBytes));
    assert.deepEqual(diffs, [], `${describeCase(c)}\nframes: ${frameBytes ?? 'default'}\n${diffs.join('\n')}`);
  });
  // A long run reports its first failure as it is: shrinking costs a database per try.
  await fc.assert(property, { numRuns, seed, endOnFailure: fuzz > 0 });
});
