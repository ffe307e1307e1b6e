/**
 * One scenario: every contestant on its own fresh copy of the same starting database, one
 * after the other in the same run, then the checks that make the figures comparable (the same
 * Person rows at the end) and the ratios the performance contract is stated in.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Contestant, ContestantId } from './contestant.js';
import { type PersonState, copyDb, personState, removeDb } from './db.js';
import { type Machine, machine, sourceRevision } from './machine.js';

export interface ContestantResult {
  id: ContestantId;
  label: string;
  wall_s: number;
  rows_per_s: number;
  peak_rss_bytes: number | null;
  exit_code: number | null;
  /** data rows the contestant says it processed */
  rows_reported: number | null;
  /** Person rows in its database afterwards (null for the parse-only rate) */
  person_rows: number | null;
  email_digest: string | null;
  content_digest: string | null;
  report: Record<string, unknown> | null;
  error: string | null;
  command: string;
  /** the database it left, when kept for a later scenario */
  db: string | null;
  /** every round's wall time; wall_s is their median */
  walls_s: number[];
}

export interface TargetSpec {
  label: string;
  /** the figure judged, from the scenario's results (null when it could not be measured) */
  value: (r: Omit<ScenarioResult, 'targets'>) => number | null;
  /** met when value ≤ limit */
  limit: number;
  /** the contestant the figure is measured against, when the scenario picks one */
  against?: (r: Omit<ScenarioResult, 'targets'>) => string | null;
}

export interface TargetResult {
  label: string;
  value: number | null;
  limit: number;
  met: boolean | null;
  /** the label of the contestant the figure is measured against, when the scenario picked one */
  against?: string | null;
}

export interface ScenarioResult {
  scenario: string;
  title: string;
  date: string;
  rows: number;
  file: string;
  file_bytes: number;
  machine: Machine;
  /** the source revision measured */
  revision: string;
  /** how the starting database was made */
  start: string;
  contestants: ContestantResult[];
  ratios: Record<string, number | null>;
  targets: TargetResult[];
  warnings: string[];
}

/**
 * Where the contestants' databases live: SQLite files (the default), or databases of a
 * PostgreSQL server (lib/postgres-db.ts). A database is named by its address, the `--db`
 * value a contestant is given: a file path, or a URL.
 */
export interface Databases {
  /** A copy of the database at `start` for one contestant's round, made from `name`: its address. */
  copy(start: string, name: string): Promise<string>;
  /** What the database holds: read back after each contestant. */
  state(db: string): Promise<PersonState>;
  remove(db: string): Promise<void>;
  /**
   * Untimed, before each contestant, once its database `next` is ready (null: it uses none):
   * nothing any other contestant did is left to be written out or maintained meanwhile.
   */
  settle(next: string | null): Promise<void>;
}

/** Database files in `workDir`, copied from a starting file. */
export function sqliteDatabases(workDir: string): Databases {
  return {
    async copy(start, name) {
      const db = join(workDir, `${name}.db`);
      copyDb(start, db);
      return db;
    },
    state: async (db) => personState(db),
    remove: async (db) => removeDb(db),
    settle: async () => settleDisk(),
  };
}

export interface ScenarioSpec {
  scenario: string;
  title: string;
  file: string;
  /** data rows in the file */
  rows: number;
  /** copied for each contestant that uses a database */
  startDb: string | null;
  /** a contestant's own starting database, where it is not startDb */
  startDbOf?: Partial<Record<ContestantId, string>>;
  /** where the databases are (default: SQLite files in workDir) */
  databases?: Databases;
  start: string;
  workDir: string;
  contestants: Contestant[];
  /** what Sluice's report must say; a peer's report is checked against it too (its counts, or the rows it wrote) */
  expected?: Partial<Record<'created' | 'updated' | 'unchanged' | 'errors' | 'lines', number>>;
  /** Person rows every contestant must leave */
  expectedPersons?: number;
  targets?: TargetSpec[];
  /** rounds per contestant (default 1); figures are medians, peak RSS the highest */
  repeat?: number;
  /** every second round runs the contestants in reverse order, so neither always goes first */
  alternate?: boolean;
  /** contestants whose database is kept (the others are removed once checked) */
  keep?: ContestantId[];
  log?: (line: string) => void;
}

/**
 * Peer A (Sluice's schema) and peer A′ (a minimal schema) are two ways a DBA writes the same
 * pipeline; the targets stated against peer A hold against whichever of them was faster.
 */
export const PEER_A_IDS: readonly ContestantId[] = ['peer_a', 'peer_a_min'];

/** The faster of peer A and peer A′ among those that ran without error, or null. */
export function fasterPeerA(contestants: readonly ContestantResult[]): ContestantResult | null {
  let best: ContestantResult | null = null;
  for (const c of contestants) {
    if (!PEER_A_IDS.includes(c.id) || c.error !== null) continue;
    if (best === null || c.wall_s < best.wall_s) best = c;
  }
  return best;
}

/** Sluice's wall time at most `limit` × the faster of peer A and peer A′ (SPEC §8, scenarios 1 and 2). */
export function fasterPeerATarget(limit: number): TargetSpec {
  return {
    label: `wall ≤ ${limit.toFixed(1)} × the faster of peer A, A′`,
    value: (r) => r.ratios.sluice_vs_faster_peer_a_wall ?? null,
    limit,
    against: (r) => {
      const f = fasterPeerA(r.contestants);
      const both = r.contestants.filter((c) => PEER_A_IDS.includes(c.id) && c.error === null).length > 1;
      return f === null ? null : both ? `${f.label}, the faster` : f.label;
    },
  };
}

function ratio(a: number | undefined | null, b: number | undefined | null): number | null {
  if (a === undefined || a === null || b === undefined || b === null || b === 0) return null;
  return Math.round((a / b) * 1000) / 1000;
}

export function localDate(d = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** Write back the page cache's dirty pages (hundreds of MB after a load), untimed. */
export function settleDisk(): void {
  try {
    execFileSync('sync', { stdio: 'ignore', timeout: 120_000 });
  } catch {
    // Without `sync` the runs are only noisier.
  }
}

export async function runScenario(spec: ScenarioSpec): Promise<ScenarioResult> {
  const log = spec.log ?? (() => {});
  mkdirSync(spec.workDir, { recursive: true });
  const dbs = spec.databases ?? sqliteDatabases(spec.workDir);
  const m = machine();
  const results: ContestantResult[] = [];
  const warnings: string[] = [];

  const repeat = spec.repeat ?? 1;
  const rounds = new Map<ContestantId, ContestantResult[]>();
  // Rounds go through every contestant in turn, so a slow spell on a shared machine
  // lands on all of them rather than on one.
  for (let round = 1; round <= repeat; round++) {
    const order = spec.alternate && round % 2 === 0 ? [...spec.contestants].reverse() : spec.contestants;
    for (const c of order) {
      let db = join(spec.workDir, `${spec.scenario}-${c.id}.db`);
      if (c.usesDb) {
        const start = spec.startDbOf?.[c.id] ?? spec.startDb;
        if (start === null) throw new Error(`${spec.scenario}: ${c.id} needs a starting database`);
        db = await dbs.copy(start, `${spec.scenario}-${c.id}`);
        await c.prepare?.(db);
      }
      log(`  ${c.label}${repeat > 1 ? ` (round ${round}/${repeat})` : ''} ...`);
      // Each contestant starts without the previous one's writes still being flushed to disk.
      await dbs.settle(c.usesDb ? db : null);
      const run = await c.run({ db, file: spec.file, workDir: spec.workDir });
      let state: PersonState | null = null;
      if (c.usesDb && run.measured.exitCode !== null) {
        try {
          state = await dbs.state(db);
        } catch (err) {
          warnings.push(`${c.label}: its database cannot be read back: ${(err as Error).message}`);
        }
      }
      const keep = c.usesDb && round === repeat && (spec.keep ?? []).includes(c.id) && run.error === null;
      if (c.usesDb && !keep) await dbs.remove(db);
      const r: ContestantResult = {
        id: c.id,
        label: c.label,
        wall_s: Math.round(run.measured.wallS * 1000) / 1000,
        rows_per_s: run.measured.wallS > 0 ? Math.round(spec.rows / run.measured.wallS) : 0,
        peak_rss_bytes: run.measured.peakRssBytes,
        exit_code: run.measured.exitCode,
        rows_reported: run.rows,
        person_rows: state?.count ?? null,
        email_digest: state?.emailDigest ?? null,
        content_digest: state?.contentDigest ?? null,
        report: run.report,
        error: run.error,
        command: run.measured.command,
        db: keep ? db : null,
        walls_s: [],
      };
      log(`  ${c.label}: ${r.wall_s.toFixed(2)} s${r.error ? ` — FAILED: ${r.error}` : ''}`);
      if (r.error) warnings.push(`${c.label} failed: ${r.error} (command: ${r.command})`);
      else if (r.rows_reported !== null && r.rows_reported !== spec.rows) warnings.push(`${c.label} reports ${r.rows_reported} rows, the file has ${spec.rows}`);
      rounds.set(c.id, [...(rounds.get(c.id) ?? []), r]);
    }
  }
  for (const c of spec.contestants) results.push(combine(rounds.get(c.id) ?? [], spec.rows));

  warnings.push(...consistency(results, spec));

  const by = (id: ContestantId): ContestantResult | undefined => results.find((r) => r.id === id && r.error === null);
  const sl = by('sluice');
  const ratios: Record<string, number | null> = {
    sluice_vs_peer_a_wall: ratio(sl?.wall_s, by('peer_a')?.wall_s),
    sluice_vs_peer_a_min_wall: ratio(sl?.wall_s, by('peer_a_min')?.wall_s),
    sluice_vs_faster_peer_a_wall: ratio(sl?.wall_s, fasterPeerA(results)?.wall_s),
    sluice_vs_peer_b_wall: ratio(sl?.wall_s, by('peer_b')?.wall_s),
    sluice_vs_peer_p_wall: ratio(sl?.wall_s, by('peer_p')?.wall_s),
    sluice_vs_peer_a_rss: ratio(sl?.peak_rss_bytes, by('peer_a')?.peak_rss_bytes),
    sluice_vs_peer_a_min_rss: ratio(sl?.peak_rss_bytes, by('peer_a_min')?.peak_rss_bytes),
    sluice_vs_peer_b_rss: ratio(sl?.peak_rss_bytes, by('peer_b')?.peak_rss_bytes),
    sluice_vs_peer_p_rss: ratio(sl?.peak_rss_bytes, by('peer_p')?.peak_rss_bytes),
    sluice_rate_vs_parse_only: ratio(sl?.rows_per_s, by('parse_only')?.rows_per_s),
    sync_vs_import_wall: ratio(by('sluice_sync')?.wall_s, sl?.wall_s),
    serve_vs_import_wall: ratio(by('sluice_serve')?.wall_s, sl?.wall_s),
    serve_vs_import_log_wall: ratio(by('sluice_serve')?.wall_s, by('sluice_log')?.wall_s),
  };
  const partial = {
    scenario: spec.scenario,
    title: spec.title,
    date: new Date().toISOString(),
    rows: spec.rows,
    file: spec.file,
    file_bytes: statSync(spec.file).size,
    machine: m,
    revision: sourceRevision(),
    start: spec.start,
    contestants: results,
    ratios,
    warnings,
  };
  const targets = (spec.targets ?? []).map((t) => {
    const value = t.value(partial);
    const met = value === null ? null : value <= t.limit;
    return { label: t.label, value, limit: t.limit, met, ...(t.against ? { against: t.against(partial) } : {}) };
  });
  return { ...partial, targets };
}

/** One figure per contestant from its rounds: the median wall, the highest peak, the first failure. */
function combine(runs: ContestantResult[], rows: number): ContestantResult {
  const last = runs[runs.length - 1] as ContestantResult;
  const ok = runs.filter((r) => r.error === null);
  const walls = ok.map((r) => r.wall_s).sort((a, b) => a - b);
  const mid = walls.length === 0 ? last.wall_s : walls.length % 2 === 1 ? (walls[(walls.length - 1) / 2] as number) : ((walls[walls.length / 2 - 1] as number) + (walls[walls.length / 2] as number)) / 2;
  const peaks = runs.map((r) => r.peak_rss_bytes).filter((p): p is number => p !== null);
  return {
    ...last,
    wall_s: Math.round(mid * 1000) / 1000,
    rows_per_s: mid > 0 ? Math.round(rows / mid) : 0,
    peak_rss_bytes: peaks.length > 0 ? Math.max(...peaks) : null,
    error: runs.find((r) => r.error !== null)?.error ?? null,
    walls_s: runs.map((r) => r.wall_s),
  };
}

/** The contestants must end in the same state, or their times do not measure the same work. */
function consistency(results: ContestantResult[], spec: ScenarioSpec): string[] {
  const out: string[] = [];
  const withDb = results.filter((r) => r.person_rows !== null);
  const list = (f: (r: ContestantResult) => string | number | null): string => withDb.map((r) => `${r.label} ${String(f(r))}`).join(', ');
  if (new Set(withDb.map((r) => r.person_rows)).size > 1) out.push(`Person rows differ: ${list((r) => r.person_rows)}`);
  else if (new Set(withDb.map((r) => r.email_digest)).size > 1) out.push(`same Person row count but different emails: ${list((r) => r.email_digest?.slice(0, 12) ?? null)}`);
  else if (new Set(withDb.map((r) => r.content_digest)).size > 1) out.push(`same emails but different attribute values: ${list((r) => r.content_digest?.slice(0, 12) ?? null)}`);
  if (spec.expectedPersons !== undefined) {
    for (const r of withDb) if (r.person_rows !== spec.expectedPersons) out.push(`${r.label} left ${r.person_rows} Person rows, expected ${spec.expectedPersons}`);
  }
  const sl = results.find((r) => r.id === 'sluice');
  if (sl?.report && spec.expected) {
    for (const [k, v] of Object.entries(spec.expected)) {
      if (sl.report[k] !== v) out.push(`sluice reports ${k} = ${String(sl.report[k])}, expected ${v}`);
    }
  }
  if (spec.expected) for (const r of results) if (r.id !== 'sluice' && r.report && r.error === null) out.push(...peerCounts(r, spec.expected));
  return out;
}

/**
 * A peer's report against what the fixture generator predicts: the counts a peer keeps
 * (peer B), or the rows an SQL pipeline wrote (inserted or updated, peer A and P), which must
 * be the created and updated ones: a pipeline that rewrote unchanged rows did other work.
 * With the Person rows it left (checked above) that pins created, updated and unchanged.
 */
export function peerCounts(r: Pick<ContestantResult, 'label' | 'report'>, expected: NonNullable<ScenarioSpec['expected']>): string[] {
  const out: string[] = [];
  const report = r.report ?? {};
  for (const k of ['created', 'updated', 'unchanged'] as const) {
    if (k in report && expected[k] !== undefined && report[k] !== expected[k]) out.push(`${r.label} reports ${k} = ${String(report[k])}, expected ${expected[k]}`);
  }
  if ('written' in report && expected.created !== undefined && expected.updated !== undefined && report.written !== expected.created + expected.updated) {
    out.push(`${r.label} wrote ${String(report.written)} rows, expected ${expected.created + expected.updated} (${expected.created} created, ${expected.updated} updated)`);
  }
  return out;
}

export function describeFile(path: string, rows: number): string {
  const mb = statSync(path).size / 1e6;
  return `${rows.toLocaleString('en-US')} rows, ${mb.toFixed(1)} MB (${basename(path)})`;
}
